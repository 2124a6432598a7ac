// Flips horizontally and/or vertically, each with probability 1/2, or, with
// `alternate`, derandomised as in Jordan's airbench (2024): each image is
// flipped at random in epoch 0 and then the other way in every next epoch, so
// any two consecutive epochs show both sides of every image. Short schedules
// then see both views without waiting on chance.
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/plugin/export.h"

namespace trex_random_flip {
using namespace trex;

class RandomFlip : public Augmentation {
 public:
  RandomFlip(bool horizontal, bool vertical, bool alternate)
      : horizontal_(horizontal), vertical_(vertical), alternate_(alternate) {}

  cv::Mat apply(const cv::Mat& image, Rng& rng) const override {
    std::bernoulli_distribution coin(0.5);
    const bool h = horizontal_ && coin(rng);
    const bool v = vertical_ && coin(rng);
    return flipped(image, h, v);
  }

  cv::Mat apply_at(const cv::Mat& image, Rng& rng, const SampleContext& at) const override {
    if (!alternate_) return apply(image, rng);
    // The epoch-0 coin depends on the sample alone; odd epochs negate it.
    const bool odd = (at.epoch % 2) != 0;
    const bool h = horizontal_ && (((at.sample_hash(0xf1195) & 1) != 0) != odd);
    const bool v = vertical_ && (((at.sample_hash(0xf1196) & 1) != 0) != odd);
    return flipped(image, h, v);
  }

 private:
  static cv::Mat flipped(const cv::Mat& image, bool h, bool v) {
    if (!h && !v) return image;
    cv::Mat out;
    cv::flip(image, out, h && v ? -1 : h ? 1 : 0);
    return out;
  }

  bool horizontal_, vertical_, alternate_;
};

const Descriptor& descriptor() {
  static const Descriptor d = make_descriptor(
      Kind::Augmentation, "random_flip", "1.1.0", "random horizontal and/or vertical flips, each with probability 1/2",
      {ParamSpec("horizontal", ParamType::Bool, "flip left-right").def(true),
       ParamSpec("vertical", ParamType::Bool, "flip top-bottom").def(false),
       ParamSpec("alternate", ParamType::Bool,
                 "derandomised: a random flip per image in epoch 0, then the opposite of the previous epoch's")
           .def(false)});
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<RandomFlip>(p.get_bool("horizontal"), p.get_bool("vertical"), p.get_bool("alternate"));
}

}  // namespace trex_random_flip

TREX_PLUGIN(trex_random_flip::descriptor, trex_random_flip::create)
