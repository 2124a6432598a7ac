// Keras ImageDataGenerator brightness_range: multiply by a factor drawn
// uniformly from [lo, hi] (PIL's ImageEnhance.Brightness), clipped to 0..255
// for 8-bit images.
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_brightness {
using namespace trex;

class Brightness : public Augmentation {
 public:
  Brightness(double lo, double hi) : lo_(lo), hi_(hi) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    const double f = lo_ == hi_ ? lo_ : std::uniform_real_distribution<double>(lo_, hi_)(rng);
    if (f == 1.0) return image;
    cv::Mat out;
    image.convertTo(out, image.type(), f);  // saturating for 8-bit
    return out;
  }

 private:
  double lo_, hi_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "brightness", "1.0.0", "multiply by a factor uniform in [lo, hi] (Keras brightness_range)",
      {ParamSpec("range", ParamType::FloatList, "[lo, hi], e.g. [0.8, 1.2]").def(std::vector<double>{1.0, 1.0})});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  const auto r = p.get<std::vector<double>>("range");
  if (r.size() != 2 || r[0] < 0 || r[0] > r[1])
    throw std::invalid_argument("brightness range takes [lo, hi] with 0 <= lo <= hi");
  return std::make_unique<Brightness>(r[0], r[1]);
}

}  // namespace trex_brightness

TREX_PLUGIN(trex_brightness::descriptor, trex_brightness::create)
