#pragma once
// The training loss: cross entropy per example with label smoothing and class
// weights (none, balanced by the train set's class sizes, or a list), and the
// mixed loss of a mixup/cutmix batch.
#include <ATen/core/Tensor.h>

#include "trex/config/splits.h"
#include "trex/config/train_options.h"
#include "trex/train/batch_mix.h"

namespace trex {

class Loss {
 public:
  /// Class weights from `options` (balanced: inverse class frequency in the train set).
  Loss(const LossOptions& options, const SplitPlan& plan, std::size_t classes, const c10::Device& device);
  at::Tensor per_example(const at::Tensor& logits, const at::Tensor& targets) const;
  /// lambda * loss(a) + (1 - lambda) * loss(b), per example.
  at::Tensor mixed(const at::Tensor& logits, const MixedBatch& m) const;

 private:
  double label_smoothing_;
  at::Tensor class_weights_;  ///< undefined: all 1
};

}  // namespace trex
