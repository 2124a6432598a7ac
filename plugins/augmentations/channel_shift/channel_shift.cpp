// Keras ImageDataGenerator channel_shift_range: add one value drawn uniformly
// from [-r, r] to every channel, clipped to the image's own min and max
// (keras_preprocessing.image.apply_channel_shift).
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_channel_shift {
using namespace trex;

class ChannelShift : public Augmentation {
 public:
  explicit ChannelShift(double range) : range_(range) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const double shift = range_ > 0 ? std::uniform_real_distribution<double>(-range_, range_)(rng) : 0;
    if (shift == 0) return image;
    double lo = 0, hi = 0;
    cv::minMaxLoc(image.reshape(1), &lo, &hi);
    cv::Mat out;
    image.convertTo(out, CV_32F);
    out += cv::Scalar::all(shift);
    out = cv::max(cv::min(out, hi), lo);
    if (image.depth() != CV_32F) out.convertTo(out, image.type());
    return out;
  }

 private:
  double range_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "channel_shift", "1.0.0",
      "add one value uniform in [-r, r] to all channels, clipped to the image's range (Keras channel_shift_range)",
      {ParamSpec("range", ParamType::Float, "r, in pixel units (0..255 for 8-bit images)").def(0.0).at_least(0)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<ChannelShift>(p.get_float("range"));
}

}  // namespace trex_channel_shift

TREX_PLUGIN(trex_channel_shift::descriptor, trex_channel_shift::create)
