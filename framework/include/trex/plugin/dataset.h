#pragma once
// Dataset plugins expose their native splits as labelled images. Subsampling
// (limit, per_class_limit) and validation splits are the host's job, so every
// dataset gets them the same way.
#include <opencv2/core/mat.hpp>

#include "trex/plugin/descriptor.h"

namespace trex {

struct ImageShape {
  std::int64_t channels = 1;
  std::int64_t height = 0;
  std::int64_t width = 0;
};

class Dataset : public Plugin {
 public:
  static constexpr Kind kKind = Kind::Dataset;  ///< what Registry::create_as checks
  virtual std::vector<std::string> class_names() const = 0;
  /// Native splits, from {"train", "val", "test"}; "train" is required.
  virtual std::vector<std::string> splits() const = 0;
  /// One label per image of the split, in storage order.
  virtual const std::vector<std::int64_t>& labels(const std::string& split) const = 0;
  /// The image as 8-bit HxWxC; called from loader threads concurrently.
  virtual cv::Mat image(const std::string& split, std::size_t index) const = 0;
  /// Shape of the images after loading (before augmentation).
  virtual ImageShape shape() const = 0;
  /// Images left out as unreadable (e.g. image_folder's on_bad_image: skip);
  /// the run records the count as data.skipped_images.
  virtual std::int64_t skipped_images() const { return 0; }
};

}  // namespace trex
