#pragma once
// The optimizer of a run: SGD, Adam, AdamW, RMSprop or Adadelta over the
// trainable parameters, in a head group and a backbone group (a composite's),
// each with its lr multiplier, each split again where normalisation layers or
// biases take another weight decay (norm_decay_mult, bias_decay_mult); and the
// unfreezing of a frozen backbone at train.unfreeze_at_epoch (fine-tuning), as
// new groups.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
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
  /// Sets every group's momentum (adam, adamw: beta1), for one_cycle's cycle_momentum.
  void set_momentum(double momentum);
  /// At train.unfreeze_at_epoch (1-based; `epoch` is 0-based) the backbone's
  /// frozen parameters start training; returns how many tensors unfroze then (nullopt: not this epoch).
  std::optional<std::size_t> maybe_unfreeze(std::int64_t epoch);

 private:
  using Named = std::pair<std::string, at::Tensor>;
  struct Group {
    std::vector<at::Tensor> params;
    double lr_mult, decay_mult;
  };
  std::vector<Group> split_by_decay(const std::vector<Named>& params, double lr_mult) const;
  void add_group_settings(const Group& g);

  TrainOptions o_;
  torch::nn::Module& module_;
  std::set<std::string> norm_params_;  ///< parameters of normalisation layers
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> group_mults_;  ///< lr multiplier of each optimizer group
  bool unfrozen_ = false;
};

}  // namespace trex
