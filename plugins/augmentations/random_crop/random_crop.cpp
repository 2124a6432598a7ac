// Pads, then crops a random window (torchvision's RandomCrop(size, padding)).
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_crop {
using namespace trex;

struct RandomCropOptions {
  std::int64_t height = 0;                ///< output height; 0 = input height
  std::int64_t width = 0;                 ///< output width; 0 = input width
  std::int64_t padding = 0;               ///< pixels added on every side before cropping
  std::string padding_mode = "constant";  ///< constant (fill) | reflect | edge
  double fill = 0;
};

class RandomCrop : public Augmentation {
 public:
  explicit RandomCrop(RandomCropOptions o) : o_(std::move(o)) {}

  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const int pad = static_cast<int>(o_.padding);
    cv::Mat padded = image;
    if (pad > 0) {
      const int border = o_.padding_mode == "reflect" ? cv::BORDER_REFLECT_101
                         : o_.padding_mode == "edge"  ? cv::BORDER_REPLICATE
                                                      : cv::BORDER_CONSTANT;
      cv::copyMakeBorder(image, padded, pad, pad, pad, pad, border, cv::Scalar::all(o_.fill));
    }
    const int h = o_.height ? static_cast<int>(o_.height) : image.rows;
    const int w = o_.width ? static_cast<int>(o_.width) : image.cols;
    if (h > padded.rows || w > padded.cols)
      throw std::invalid_argument("random_crop: crop " + std::to_string(h) + "x" + std::to_string(w) +
                                  " is larger than the padded image " + std::to_string(padded.rows) + "x" +
                                  std::to_string(padded.cols));
    std::uniform_int_distribution<int> dy(0, padded.rows - h), dx(0, padded.cols - w);
    const int y = dy(rng);
    const int x = dx(rng);
    return padded(cv::Rect(x, y, w, h)).clone();
  }

  ImageShape output_shape(const ImageShape& in) const override {
    return {in.channels, o_.height ? o_.height : in.height, o_.width ? o_.width : in.width};
  }

 private:
  RandomCropOptions o_;
};

const Descriptor& descriptor() {
  using T = ParamType;
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "random_crop", "1.0.0", "pad, then crop a random window (torchvision RandomCrop)",
      {ParamSpec("height", T::Int, "output height; 0 keeps the input's").def(std::int64_t{0}).range(0, 1 << 16),
       ParamSpec("width", T::Int, "output width; 0 keeps the input's").def(std::int64_t{0}).range(0, 1 << 16),
       ParamSpec("padding", T::Int, "pixels added on every side first").def(std::int64_t{0}).range(0, 1 << 12),
       ParamSpec("padding_mode", T::String, "how padding is filled")
           .def(std::string("constant"))
           .one_of({"constant", "reflect", "edge"}),
       ParamSpec("fill", T::Float, "pixel value for constant padding").def(0.0)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  RandomCropOptions o;
  o.height = p.get_int("height");
  o.width = p.get_int("width");
  o.padding = p.get_int("padding");
  o.padding_mode = p.get_string("padding_mode");
  o.fill = p.get_float("fill");
  return std::make_unique<RandomCrop>(std::move(o));
}

}  // namespace trex_random_crop

TREX_PLUGIN(trex_random_crop::descriptor, trex_random_crop::create)
