// Multiplies pixels by a factor and makes them float (Keras's rescale=1/255).
#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_rescale {
using namespace trex;

class Rescale : public Augmentation {
 public:
  explicit Rescale(double factor) : factor_(factor) {}
  cv::Mat apply(const cv::Mat& image, Rng&) const override {
    cv::Mat out;
    image.convertTo(out, CV_32F, factor_);
    return out;
  }

 private:
  double factor_;
};

const Descriptor& descriptor() {
  static const Descriptor d = deterministic_augmentation(make_descriptor(
      Kind::Augmentation, "rescale", "1.0.0", "multiply pixel values by a factor and convert to float",
      {ParamSpec("factor", ParamType::Float, "the multiplier; 1/255 maps 8-bit pixels to [0, 1]").def(1.0 / 255.0)}));
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<Rescale>(p.get_float("factor"));
}

}  // namespace trex_rescale

TREX_PLUGIN(trex_rescale::descriptor, trex_rescale::create)
