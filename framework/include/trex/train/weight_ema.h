#pragma once
// Weight EMA (train.ema): an exponential moving average of the weights that
// the trainer swaps into the model for validation, checkpoints and the test,
// and swaps out again to train on. A checkpoint written while the average is
// in holds the average as its model (so the test, `trex predict` and `trex
// export` use it with nothing to know) and the training weights beside it, as
// extra tensors, so a resumed run continues both bit for bit.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "trex/config/train_options.h"

namespace trex {

class WeightEma {
 public:
  /// Averages `module`'s trainable parameters (every parameter when
  /// `all_parameters`: a backbone that unfreezes later) and its floating-point
  /// buffers (BatchNorm statistics); starts equal to them.
  WeightEma(const EmaOptions& options, torch::nn::Module& module, bool all_parameters);
  /// The average restarts at the model's weights (a fresh run, after every rank took rank 0's).
  void start_from_model();
  /// After an optimizer step: average = d * average + (1 - d) * weights.
  void update();
  /// The decay the next update uses (warm-up included).
  double decay() const;
  /// Exchanges the model's tensors with the average's; `swapped()` says which the model holds.
  void swap();
  bool swapped() const { return swapped_; }
  /// What a checkpoint keeps beside the model: the tensors not in the model now (the training
  /// weights while the average is swapped in), by name, and the step count. The
  /// tensors are the EMA's own, not copies: write them before the next swap.
  std::map<std::string, at::Tensor> checkpoint_extra() const;
  /// From a checkpoint written with the average in the model (now loaded): the
  /// average takes the model's tensors, the model the saved training weights.
  void restore(const std::map<std::string, at::Tensor>& extra, const std::string& path);
  std::int64_t updates() const { return updates_; }

 private:
  EmaOptions o_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> live_, average_;  ///< the model's tensors; the other copy
  std::int64_t updates_ = 0;
  bool swapped_ = false;
};

/// Swaps the average in for a scope (val, checkpoints) and out at its end; no-op without EMA.
class EmaScope {
 public:
  explicit EmaScope(WeightEma* ema) : ema_(ema && !ema->swapped() ? ema : nullptr) {
    if (ema_) ema_->swap();
  }
  ~EmaScope() {
    if (ema_) ema_->swap();
  }
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  WeightEma* ema_;
};

}  // namespace trex
