// torchvision RandomResizedCrop: a window of random area (scale) and aspect
// ratio (log-uniform), ten tries, else the central window of the nearest
// allowed ratio; then resized to height x width.
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_resized_crop {
using namespace trex;

class RandomResizedCrop : public Augmentation {
 public:
  RandomResizedCrop(int h, int w, std::vector<double> scale, std::vector<double> ratio)
      : h_(h), w_(w), scale_(std::move(scale)), ratio_(std::move(ratio)) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const double H = image.rows, W = image.cols, area = H * W;
    cv::Rect box;
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target = area * std::uniform_real_distribution<double>(scale_[0], scale_[1])(rng);
      const double aspect =
          std::exp(std::uniform_real_distribution<double>(std::log(ratio_[0]), std::log(ratio_[1]))(rng));
      const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
      const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
      if (w > 0 && h > 0 && w <= W && h <= H) {
        const int top = std::uniform_int_distribution<int>(0, image.rows - h)(rng);
        const int left = std::uniform_int_distribution<int>(0, image.cols - w)(rng);
        box = cv::Rect(left, top, w, h);
        found = true;
      }
    }
    if (!found) {
      const double in_ratio = W / H;
      int w = image.cols, h = image.rows;
      if (in_ratio < ratio_[0])
        h = static_cast<int>(std::lround(w / ratio_[0]));
      else if (in_ratio > ratio_[1])
        w = static_cast<int>(std::lround(h * ratio_[1]));
      box = cv::Rect((image.cols - w) / 2, (image.rows - h) / 2, w, h);
    }
    cv::Mat out;
    cv::resize(image(box), out, cv::Size(w_, h_), 0, 0, cv::INTER_LINEAR);
    return out;
  }
  ImageShape output_shape(const ImageShape& in) const override { return {in.channels, h_, w_}; }

 private:
  int h_, w_;
  std::vector<double> scale_, ratio_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "random_resized_crop", "1.0.0",
      "a random window (area share in scale, aspect in ratio) resized to height x width (torchvision "
      "RandomResizedCrop)",
      {ParamSpec("height", ParamType::Int, "output height").def(std::int64_t{224}).range(1, 1 << 14),
       ParamSpec("width", ParamType::Int, "output width").def(std::int64_t{224}).range(1, 1 << 14),
       ParamSpec("scale", ParamType::FloatList, "[lo, hi] share of the image area").def(std::vector<double>{0.08, 1.0}),
       ParamSpec("ratio", ParamType::FloatList, "[lo, hi] aspect ratio w/h")
           .def(std::vector<double>{3.0 / 4.0, 4.0 / 3.0})});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  auto scale = p.get<std::vector<double>>("scale"), ratio = p.get<std::vector<double>>("ratio");
  if (scale.size() != 2 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1))
    throw std::invalid_argument("random_resized_crop scale takes [lo, hi] with 0 < lo <= hi <= 1");
  if (ratio.size() != 2 || !(ratio[0] > 0 && ratio[0] <= ratio[1]))
    throw std::invalid_argument("random_resized_crop ratio takes [lo, hi] with 0 < lo <= hi");
  return std::make_unique<RandomResizedCrop>(static_cast<int>(p.get_int("height")),
                                             static_cast<int>(p.get_int("width")), scale, ratio);
}

}  // namespace trex_random_resized_crop

TREX_PLUGIN(trex_random_resized_crop::descriptor, trex_random_resized_crop::create)
