// Flips horizontally and/or vertically, each with probability 1/2.
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_flip {
using namespace trex;

class RandomFlip : public Augmentation {
 public:
  RandomFlip(bool horizontal, bool vertical) : horizontal_(horizontal), vertical_(vertical) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    std::bernoulli_distribution coin(0.5);
    const bool h = horizontal_ && coin(rng);
    const bool v = vertical_ && coin(rng);
    if (!h && !v) return image;
    cv::Mat out;
    cv::flip(image, out, h && v ? -1 : h ? 1 : 0);
    return out;
  }

 private:
  bool horizontal_, vertical_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(Kind::Augmentation, "random_flip", "1.0.0",
                                              "random horizontal and/or vertical flips, each with probability 1/2",
                                              {ParamSpec("horizontal", ParamType::Bool, "flip left-right").def(true),
                                               ParamSpec("vertical", ParamType::Bool, "flip top-bottom").def(false)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<RandomFlip>(p.get_bool("horizontal"), p.get_bool("vertical"));
}

}  // namespace trex_random_flip

TREX_PLUGIN(trex_random_flip::descriptor, trex_random_flip::create)
