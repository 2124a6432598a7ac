#pragma once
// Augmentations transform one image with an RNG the host derives from
// (seed, epoch, sample index), so results do not depend on thread count or resume.
#include <cstdint>
#include <random>

#include <opencv2/core/mat.hpp>

#include "trex/plugin/dataset.h"
#include "trex/plugin/seed_mix.h"

namespace trex {

using Rng = std::mt19937_64;

/// Where a sample is being drawn, for augmentations whose choice must relate
/// across epochs (alternating flips). Plain random ones need only the RNG.
struct SampleContext {
  std::uint64_t seed = 0;      ///< the run's seed
  std::int64_t epoch = 0;      ///< 0-based epoch of the pass
  std::uint64_t position = 0;  ///< the sample's position in its set, the same in every epoch

  /// A hash of (seed, position, salt) that does not change with the epoch.
  std::uint64_t sample_hash(std::uint64_t salt) const { return mix_seed(seed, position, salt); }
};

class Augmentation : public Plugin {
 public:
  static constexpr Kind kKind = Kind::Augmentation;  ///< what Registry::create_as checks
  /// Transforms `image` (8-bit or 32-bit float, HxWxC) and returns the result.
  virtual cv::Mat apply(const cv::Mat& image, Rng& rng) const = 0;
  /// The same, knowing where the sample is drawn; by default that is ignored.
  virtual cv::Mat apply_at(const cv::Mat& image, Rng& rng, const SampleContext&) const { return apply(image, rng); }
  /// Shape of the output for an input of `in` (crops and resizes change it).
  virtual ImageShape output_shape(const ImageShape& in) const { return in; }
};

}  // namespace trex
