#include "trex/train/optimization.h"

#include <set>

#include <torch/optim.h>

#include "trex/train/adadelta.h"

namespace trex {
namespace {

using torch::optim::OptimizerParamGroup;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& o,
                                                        const std::vector<OptimizerParamGroup>& groups) {
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

/// Sets `weight_decay` or `momentum` (adam, adamw: beta1) in one group's options, whatever the optimizer.
template <typename Options>
bool set_option(torch::optim::OptimizerOptions& options, const char* what, double value) {
  auto* o = dynamic_cast<Options*>(&options);
  if (!o) return false;
  if (std::string(what) == "weight_decay") {
    o->weight_decay(value);
  } else if constexpr (std::is_same_v<Options, torch::optim::AdamOptions> ||
                       std::is_same_v<Options, torch::optim::AdamWOptions>) {
    o->betas({value, std::get<1>(o->betas())});
  } else if constexpr (!std::is_same_v<Options, AdadeltaOptions>) {
    o->momentum(value);
  }
  return true;
}

void set_group_option(torch::optim::OptimizerOptions& options, const char* what, double value) {
  using namespace torch::optim;
  set_option<SGDOptions>(options, what, value) || set_option<AdamOptions>(options, what, value) ||
      set_option<AdamWOptions>(options, what, value) || set_option<RMSpropOptions>(options, what, value) ||
      set_option<AdadeltaOptions>(options, what, value);
}

/// Names of the parameters that belong to normalisation layers (BatchNorm,
/// trex::BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm: their type names say "Norm").
std::set<std::string> norm_parameters(torch::nn::Module& module) {
  std::set<std::string> out;
  for (const auto& m : module.named_modules("", false))
    if (m.value()->name().find("Norm") != std::string::npos)
      for (const auto& p : m.value()->named_parameters(false))
        out.insert(m.key().empty() ? p.key() : m.key() + "." + p.key());
  return out;
}

}  // namespace

Optimization::Optimization(const TrainOptions& options, torch::nn::Module& module, bool composite)
    : o_(options), module_(module), norm_params_(norm_parameters(module)) {
  // A composite model's head and backbone train at their own lr multipliers.
  std::vector<Named> head, backbone;
  for (const auto& p : module.named_parameters())
    if (p.value().requires_grad())
      (composite && p.key().rfind("backbone.", 0) == 0 ? backbone : head).emplace_back(p.key(), p.value());
  std::vector<Group> groups = split_by_decay(head, composite ? o_.optimizer.head_lr_mult : 1.0);
  if (!backbone.empty())
    for (auto& g : split_by_decay(backbone, o_.optimizer.backbone_lr_mult)) groups.push_back(std::move(g));
  std::vector<OptimizerParamGroup> param_groups;
  for (const auto& g : groups) param_groups.emplace_back(g.params);
  optimizer_ = make_optimizer(o_.optimizer, param_groups);
  for (const auto& g : groups) add_group_settings(g);
}

std::vector<Optimization::Group> Optimization::split_by_decay(const std::vector<Named>& params, double lr_mult) const {
  // Weight decay multipliers by kind (MMPretrain's paramwise_cfg); with all at 1, one group, as before.
  std::vector<Group> groups;
  for (const auto& [name, tensor] : params) {
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const double mult = norm_params_.count(name) ? o_.optimizer.norm_decay_mult
                        : bias || name == "bias" ? o_.optimizer.bias_decay_mult
                                                 : 1.0;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.decay_mult == mult; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{{}, lr_mult, mult});
    it->params.push_back(tensor);
  }
  if (groups.empty()) groups.push_back(Group{{}, lr_mult, 1.0});  // an empty head group keeps the layout
  return groups;
}

void Optimization::add_group_settings(const Group& g) {
  group_mults_.push_back(g.lr_mult);
  auto& options = optimizer_->param_groups().at(group_mults_.size() - 1).options();
  if (g.decay_mult != 1.0) set_group_option(options, "weight_decay", o_.optimizer.weight_decay * g.decay_mult);
}

void Optimization::set_lr(double lr) {
  auto& groups = optimizer_->param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * group_mults_.at(i));
}

void Optimization::set_momentum(double momentum) {
  for (auto& g : optimizer_->param_groups()) set_group_option(g.options(), "momentum", momentum);
}

std::optional<std::size_t> Optimization::maybe_unfreeze(std::int64_t epoch) {
  if (unfrozen_ || o_.unfreeze_at_epoch <= 0 || epoch + 1 < o_.unfreeze_at_epoch) return std::nullopt;
  std::vector<Named> params;
  for (const auto& p : module_.named_parameters())
    if (p.key().rfind("backbone.", 0) == 0 && !p.value().requires_grad()) {
      p.value().set_requires_grad(true);
      params.emplace_back(p.key(), p.value());
    }
  if (!params.empty())
    for (const auto& g : split_by_decay(params, o_.optimizer.backbone_lr_mult)) {
      optimizer_->add_param_group(OptimizerParamGroup(g.params));
      add_group_settings(g);
    }
  unfrozen_ = true;
  return params.size();
}

}  // namespace trex
