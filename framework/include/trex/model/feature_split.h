#pragma once
// The frozen front of a composite model, split from the part that trains, so
// its output can be computed once and cached (feature_cache.h).
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace trex {

class FeatureSplit {
 public:
  virtual ~FeatureSplit() = default;
  /// The backbone up to the cut, then the head's leading global pooling when it
  /// has one (Inception's 8x8x2048 maps become 2048 numbers).
  virtual at::Tensor frozen_features(const at::Tensor& x) = 0;
  /// The rest of the head on frozen_features' output; forward(x) is exactly
  /// head_forward(frozen_features(x)).
  virtual at::Tensor head_forward(const at::Tensor& features) = 0;
  /// Why frozen_features may change during training, so cannot be cached
  /// (trainable backbone tensors, BatchNorm in training mode, dropout before the
  /// cut); empty when it cannot change.
  virtual std::string cache_blocker() = 0;
  /// Backbone tensors (names under "backbone") that training leaves unchanged:
  /// frozen parameters and the buffers of frozen BatchNorm layers.
  virtual std::vector<std::string> unchanging_backbone_tensors() const = 0;
};

}  // namespace trex
