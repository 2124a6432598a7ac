#include "trex/train/weight_ema.h"

#include <algorithm>
#include <stdexcept>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace trex {

WeightEma::WeightEma(const EmaOptions& options, torch::nn::Module& module, bool all_parameters) : o_(options) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters())
    if (all_parameters || p.value().requires_grad()) names_.push_back(p.key()), live_.push_back(p.value());
  for (const auto& b : module.named_buffers())
    if (b.value().is_floating_point()) names_.push_back(b.key()), live_.push_back(b.value());
  for (const auto& t : live_) average_.push_back(t.detach().clone());
}

void WeightEma::start_from_model() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < live_.size(); ++i) average_[i].copy_(live_[i]);
  updates_ = 0;
  swapped_ = false;
}

double WeightEma::decay() const {
  const double n = static_cast<double>(updates_);
  return o_.warmup ? std::min(o_.decay, (1 + n) / (10 + n)) : o_.decay;
}

void WeightEma::update() {
  if (swapped_) throw std::logic_error("WeightEma::update with the average swapped in");
  torch::NoGradGuard no_grad;
  const double d = decay();
  ++updates_;
  // Two fused passes over every tensor (LibTorch 1.13 has no _foreach_lerp_).
  at::_foreach_mul_(average_, d);
  at::_foreach_add_(average_, live_, 1 - d);
}

void WeightEma::swap() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < live_.size(); ++i) {
    at::Tensor held = live_[i].clone();
    live_[i].copy_(average_[i]);
    average_[i].copy_(held);
  }
  swapped_ = !swapped_;
}

std::map<std::string, at::Tensor> WeightEma::checkpoint_extra() const {
  std::map<std::string, at::Tensor> out;
  for (std::size_t i = 0; i < names_.size(); ++i) out["ema_other." + names_[i]] = average_[i];
  out["ema_updates"] = at::scalar_tensor(static_cast<double>(updates_), at::kDouble);
  out["ema_swapped"] = at::scalar_tensor(swapped_ ? 1.0 : 0.0, at::kDouble);
  return out;
}

void WeightEma::restore(const std::map<std::string, at::Tensor>& extra, const std::string& path) {
  const auto get = [&](const std::string& key) -> const at::Tensor& {
    const auto it = extra.find(key);
    if (it == extra.end())
      throw std::runtime_error(
          "checkpoint '" + path + "' has no '" + key +
          "' though train.ema is on: it was written without EMA; resume with the spec it ran with");
    return it->second;
  };
  const at::Tensor& count = get("ema_updates");
  const at::Tensor& swapped = get("ema_swapped");
  if (count.numel() != 1 || swapped.numel() != 1 || swapped.item<double>() != 1.0)
    throw std::runtime_error("checkpoint '" + path + "': its EMA state is not one written with the average in");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const at::Tensor& other = get("ema_other." + names_[i]);
    if (other.sizes() != live_[i].sizes())
      throw std::runtime_error("checkpoint '" + path + "': EMA tensor '" + names_[i] + "' has another shape");
    average_[i].copy_(live_[i]);  // the model was loaded with the average
    live_[i].copy_(other);
  }
  updates_ = static_cast<std::int64_t>(count.item<double>());
  swapped_ = false;
}

}  // namespace trex
