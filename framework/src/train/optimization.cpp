#include "trex/train/optimization.h"

#include <torch/optim.h>

#include "trex/train/adadelta.h"

namespace trex {
namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& o,
                                                        const std::vector<torch::optim::OptimizerParamGroup>& groups) {
  using namespace torch::optim;
  if (o.type == "sgd")
    return std::make_unique<SGD>(
        groups, SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
  if (o.type == "adam")
    return std::make_unique<Adam>(
        groups, AdamOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(o.weight_decay));
  if (o.type == "adamw")
    return std::make_unique<AdamW>(
        groups, AdamWOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(o.weight_decay));
  if (o.type == "rmsprop")
    return std::make_unique<RMSprop>(
        groups, RMSpropOptions(o.lr).alpha(o.alpha).eps(o.eps).momentum(o.momentum).weight_decay(o.weight_decay));
  if (o.type == "adadelta")
    return std::make_unique<Adadelta>(
        groups, AdadeltaOptions(o.lr).rho(o.rho).eps(o.adadelta_eps).weight_decay(o.weight_decay));
  throw std::runtime_error("train.optimizer.type: unknown optimizer '" + o.type + "'");
}

}  // namespace

Optimization::Optimization(const TrainOptions& options, torch::nn::Module& module, bool composite)
    : o_(options), module_(module) {
  // A composite model's head and backbone train at their own lr multipliers.
  std::vector<at::Tensor> head, backbone;
  for (const auto& p : module.named_parameters())
    if (p.value().requires_grad())
      (composite && p.key().rfind("backbone.", 0) == 0 ? backbone : head).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups{torch::optim::OptimizerParamGroup(head)};
  group_mults_ = {composite ? o_.optimizer.head_lr_mult : 1.0};
  if (!backbone.empty()) {
    groups.emplace_back(backbone);
    group_mults_.push_back(o_.optimizer.backbone_lr_mult);
  }
  optimizer_ = make_optimizer(o_.optimizer, groups);
}

void Optimization::set_lr(double lr) {
  auto& groups = optimizer_->param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * group_mults_.at(i));
}

std::optional<std::size_t> Optimization::maybe_unfreeze(std::int64_t epoch) {
  if (unfrozen_ || o_.unfreeze_at_epoch <= 0 || epoch + 1 < o_.unfreeze_at_epoch) return std::nullopt;
  std::vector<at::Tensor> params;
  for (const auto& p : module_.named_parameters())
    if (p.key().rfind("backbone.", 0) == 0 && !p.value().requires_grad()) {
      p.value().set_requires_grad(true);
      params.push_back(p.value());
    }
  if (!params.empty()) {
    optimizer_->add_param_group(torch::optim::OptimizerParamGroup(params));
    group_mults_.push_back(o_.optimizer.backbone_lr_mult);
  }
  unfrozen_ = true;
  return params.size();
}

}  // namespace trex
