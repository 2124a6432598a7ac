#pragma once
// Augmentations transform one image with an RNG the host derives from
// (seed, epoch, sample index), so results do not depend on thread count or resume.
#include <random>

#include <opencv2/core/mat.hpp>

#include "trex/plugin/dataset.h"

namespace trex {

using Rng = std::mt19937_64;

class Augmentation : public Plugin {
 public:
  static constexpr Kind kKind = Kind::Augmentation;  ///< what Registry::create_as checks
  /// Transforms `image` (8-bit or 32-bit float, HxWxC) and returns the result.
  virtual cv::Mat apply(const cv::Mat& image, Rng& rng) const = 0;
  /// Shape of the output for an input of `in` (crops and resizes change it).
  virtual ImageShape output_shape(const ImageShape& in) const { return in; }
};

}  // namespace trex
