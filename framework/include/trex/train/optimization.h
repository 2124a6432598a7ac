#pragma once
// The optimizer of a run: SGD, Adam, AdamW, RMSprop or Adadelta over the
// trainable parameters, in a head group and a backbone group (a composite's),
// each with its lr multiplier; and the unfreezing of a frozen backbone at
// train.unfreeze_at_epoch (fine-tuning), as a new group.
#include <memory>
#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "trex/config/train_options.h"

namespace trex {

class Optimization {
 public:
  Optimization(const TrainOptions& options, torch::nn::Module& module, bool composite);
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  /// Sets each group's lr to `lr` times its multiplier.
  void set_lr(double lr);
  /// At train.unfreeze_at_epoch (1-based; `epoch` is 0-based) the backbone's
  /// frozen parameters start training; returns how many tensors unfroze then (nullopt: not this epoch).
  std::optional<std::size_t> maybe_unfreeze(std::int64_t epoch);

 private:
  TrainOptions o_;
  torch::nn::Module& module_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> group_mults_;  ///< lr multiplier of each optimizer group
  bool unfrozen_ = false;
};

}  // namespace trex
