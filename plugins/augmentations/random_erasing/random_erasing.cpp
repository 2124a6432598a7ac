// torchvision RandomErasing: a rectangle of random area (scale) and aspect
// (log-uniform in ratio) set to a value, or to normal noise with `random`;
// ten tries, then the image is left as it is. Usually after normalize.
#include <cmath>

#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_erasing {
using namespace trex;

class RandomErasing : public Augmentation {
 public:
  RandomErasing(std::vector<double> scale, std::vector<double> ratio, double value, bool random)
      : scale_(std::move(scale)), ratio_(std::move(ratio)), value_(value), random_(random) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const double area = static_cast<double>(image.rows) * image.cols;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase = area * std::uniform_real_distribution<double>(scale_[0], scale_[1])(rng);
      const double aspect =
          std::exp(std::uniform_real_distribution<double>(std::log(ratio_[0]), std::log(ratio_[1]))(rng));
      const int h = static_cast<int>(std::lround(std::sqrt(erase * aspect)));
      const int w = static_cast<int>(std::lround(std::sqrt(erase / aspect)));
      if (h <= 0 || w <= 0 || h >= image.rows || w >= image.cols) continue;
      const int top = std::uniform_int_distribution<int>(0, image.rows - h)(rng);
      const int left = std::uniform_int_distribution<int>(0, image.cols - w)(rng);
      cv::Mat out = image.clone();
      cv::Mat roi = out(cv::Rect(left, top, w, h));
      if (random_) {
        cv::Mat noise(roi.size(), CV_32FC(image.channels()));
        std::normal_distribution<float> n(0.f, 1.f);
        for (auto it = noise.begin<float>(); it != noise.end<float>(); ++it) *it = n(rng);
        if (image.depth() == CV_32F)
          noise.copyTo(roi);
        else
          noise.convertTo(roi, image.type(), 64, 128);  // 8-bit: noise around mid-grey
      } else {
        roi.setTo(cv::Scalar::all(value_));
      }
      return out;
    }
    return image;
  }

 private:
  std::vector<double> scale_, ratio_;
  double value_;
  bool random_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "random_erasing", "1.0.0",
      "erase a random rectangle (torchvision RandomErasing; set p, e.g. 0.5)",
      {ParamSpec("scale", ParamType::FloatList, "[lo, hi] share of the image area")
           .def(std::vector<double>{0.02, 0.33}),
       ParamSpec("ratio", ParamType::FloatList, "[lo, hi] aspect ratio h/w").def(std::vector<double>{0.3, 3.3}),
       ParamSpec("value", ParamType::Float, "the erased pixels' value").def(0.0),
       ParamSpec("random", ParamType::Bool, "fill with normal noise instead of value").def(false)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  auto scale = p.get<std::vector<double>>("scale"), ratio = p.get<std::vector<double>>("ratio");
  if (scale.size() != 2 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] < 1))
    throw std::invalid_argument("random_erasing scale takes [lo, hi] with 0 < lo <= hi < 1");
  if (ratio.size() != 2 || !(ratio[0] > 0 && ratio[0] <= ratio[1]))
    throw std::invalid_argument("random_erasing ratio takes [lo, hi] with 0 < lo <= hi");
  return std::make_unique<RandomErasing>(scale, ratio, p.get_float("value"), p.get_bool("random"));
}

}  // namespace trex_random_erasing

TREX_PLUGIN(trex_random_erasing::descriptor, trex_random_erasing::create)
