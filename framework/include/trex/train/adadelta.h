#pragma once
// Adadelta (Zeiler 2012), as torch.optim.Adadelta: LibTorch 1.13's C++ API has
// no Adadelta, and the book's CIFAR CNN trains with it.
#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>

namespace trex {

struct AdadeltaOptions : public torch::optim::OptimizerCloneableOptions<AdadeltaOptions> {
  AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
  /// step size multiplier; default 1.0
  TORCH_ARG(double, lr) = 1.0;
  /// running-average decay of squared gradients and updates, [0, 1]; default 0.9
  TORCH_ARG(double, rho) = 0.9;
  /// added inside the square roots; default 1e-6
  TORCH_ARG(double, eps) = 1e-6;
  /// L2 penalty added to the gradient; default 0
  TORCH_ARG(double, weight_decay) = 0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

struct AdadeltaParamState : public torch::optim::OptimizerCloneableParamState<AdadeltaParamState> {
  TORCH_ARG(torch::Tensor, square_avg);
  TORCH_ARG(torch::Tensor, acc_delta);
  TORCH_ARG(int64_t, step) = 0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

class Adadelta : public torch::optim::Optimizer {
 public:
  explicit Adadelta(std::vector<torch::optim::OptimizerParamGroup> groups, AdadeltaOptions defaults = {});
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
};

}  // namespace trex
