// Resizes to a fixed size (the book's 48x48 CIFAR images for VGG16, 299x299 for InceptionV3).
#include <opencv2/imgproc.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_resize {
using namespace trex;

class Resize : public Augmentation {
 public:
  Resize(int height, int width, int interpolation) : height_(height), width_(width), interpolation_(interpolation) {}
  cv::Mat apply(const cv::Mat& image, Rng&) const override {
    if (image.rows == height_ && image.cols == width_) return image;
    cv::Mat out;
    cv::resize(image, out, cv::Size(width_, height_), 0, 0, interpolation_);
    return out;
  }
  ImageShape output_shape(const ImageShape& in) const override { return {in.channels, height_, width_}; }

 private:
  int height_, width_, interpolation_;
};

const Descriptor& descriptor() {
  using T = ParamType;
  static const Descriptor d = deterministic_augmentation(
      make_descriptor(Kind::Augmentation, "resize", "1.0.0", "resize to height x width",
                      {ParamSpec("height", T::Int, "output height").def(std::int64_t{224}).range(1, 1 << 14),
                       ParamSpec("width", T::Int, "output width").def(std::int64_t{224}).range(1, 1 << 14),
                       ParamSpec("interpolation", T::String, "OpenCV interpolation")
                           .def(std::string("linear"))
                           .one_of({"nearest", "linear", "cubic", "area", "lanczos"})}));
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  const std::string& i = p.get_string("interpolation");
  const int mode = i == "nearest"   ? cv::INTER_NEAREST
                   : i == "cubic"   ? cv::INTER_CUBIC
                   : i == "area"    ? cv::INTER_AREA
                   : i == "lanczos" ? cv::INTER_LANCZOS4
                                    : cv::INTER_LINEAR;
  return std::make_unique<Resize>(static_cast<int>(p.get_int("height")), static_cast<int>(p.get_int("width")), mode);
}

}  // namespace trex_resize

TREX_PLUGIN(trex_resize::descriptor, trex_resize::create)
