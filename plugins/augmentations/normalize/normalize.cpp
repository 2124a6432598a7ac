// (x - mean) / std per channel, as torchvision's Normalize. 8-bit input is
// first scaled to [0, 1] (ToTensor's convention), so `normalize` alone suffices.
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_normalize {
using namespace trex;

class Normalize : public Augmentation {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
    if (mean_.empty() || mean_.size() != std_.size())
      throw std::invalid_argument("normalize: mean and std must have the same, non-zero length");
    for (double s : std_)
      if (s <= 0) throw std::invalid_argument("normalize: every std must be > 0");
  }
  cv::Mat apply(const cv::Mat& image, Rng&) const override {
    const int c = image.channels();
    if (mean_.size() != 1 && static_cast<int>(mean_.size()) != c)
      throw std::invalid_argument("normalize: mean/std have " + std::to_string(mean_.size()) +
                                  " values but the image has " + std::to_string(c) + " channels; give 1 or " +
                                  std::to_string(c));
    cv::Mat out;
    image.convertTo(out, CV_32F, image.depth() == CV_8U ? 1.0 / 255.0 : 1.0);
    cv::Scalar mean, scale;
    for (int i = 0; i < c && i < 4; ++i) {
      mean[i] = mean_[mean_.size() == 1 ? 0 : i];
      scale[i] = 1.0 / std_[std_.size() == 1 ? 0 : i];
    }
    cv::subtract(out, mean, out);
    cv::multiply(out, scale, out);
    return out;
  }

 private:
  std::vector<double> mean_, std_;
};

const Descriptor& descriptor() {
  static const Descriptor d = deterministic_augmentation(make_descriptor(
      Kind::Augmentation, "normalize", "1.0.0", "(x - mean) / std per channel; 8-bit input is scaled to [0, 1] first",
      {ParamSpec("mean", ParamType::FloatList, "per-channel mean (1 value: all channels)")
           .def(std::vector<double>{0.5}),
       ParamSpec("std", ParamType::FloatList, "per-channel std (1 value: all channels)")
           .def(std::vector<double>{0.5})}));
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<Normalize>(p.get<std::vector<double>>("mean"), p.get<std::vector<double>>("std"));
}

}  // namespace trex_normalize

TREX_PLUGIN(trex_normalize::descriptor, trex_normalize::create)
