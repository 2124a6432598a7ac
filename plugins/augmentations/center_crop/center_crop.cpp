// The central height x width window (torchvision CenterCrop: smaller images
// are zero-padded first).
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_center_crop {
using namespace trex;

class CenterCrop : public Augmentation {
 public:
  CenterCrop(int h, int w) : h_(h), w_(w) {}
  cv::Mat apply(const cv::Mat& image, Rng&) const override {
    cv::Mat src = image;
    if (src.rows < h_ || src.cols < w_) {
      const int py = std::max(0, h_ - src.rows), px = std::max(0, w_ - src.cols);
      cv::copyMakeBorder(image, src, py / 2, py - py / 2, px / 2, px - px / 2, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    }
    // torchvision rounds the offset: int(round((H - h) / 2)).
    const int top = static_cast<int>(std::lround((src.rows - h_) / 2.0)),
              left = static_cast<int>(std::lround((src.cols - w_) / 2.0));
    return src(cv::Rect(left, top, w_, h_)).clone();
  }
  ImageShape output_shape(const ImageShape& in) const override { return {in.channels, h_, w_}; }

 private:
  int h_, w_;
};

const Descriptor& descriptor() {
  static const Descriptor d = deterministic_augmentation(make_descriptor(
      Kind::Augmentation, "center_crop", "1.0.0", "the central height x width window (zero-padded when smaller)",
      {ParamSpec("height", ParamType::Int, "output height").def(std::int64_t{224}).range(1, 1 << 14),
       ParamSpec("width", ParamType::Int, "output width").def(std::int64_t{224}).range(1, 1 << 14)}));
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<CenterCrop>(static_cast<int>(p.get_int("height")), static_cast<int>(p.get_int("width")));
}

}  // namespace trex_center_crop

TREX_PLUGIN(trex_center_crop::descriptor, trex_center_crop::create)
