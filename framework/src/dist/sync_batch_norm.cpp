#include "trex/dist/sync_batch_norm.h"

#include <torch/autograd.h>
#include <torch/utils.h>

#include "trex/plugin_kit/batch_norm.h"

namespace trex {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// Per-channel sums over every dimension but 1 ([N, C] or [N, C, H, W]).
at::Tensor channel_sum(const at::Tensor& t) {
  std::vector<std::int64_t> dims{0};
  for (std::int64_t d = 2; d < t.dim(); ++d) dims.push_back(d);
  return t.sum(dims);
}
at::Tensor per_channel(const at::Tensor& v, std::int64_t dims) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[1] = -1;
  return v.view(shape);
}

struct SyncBatchNorm : torch::autograd::Function<SyncBatchNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            at::Tensor running_mean, at::Tensor running_var, at::Tensor num_batches_tracked,
                            const torch::nn::BatchNormOptions* options, Collective* c) {
    const std::int64_t channels = x.size(1), dims = x.dim();
    // Sums in double: E[x^2] - E[x]^2 keeps what float statistics keep.
    const at::Tensor xd = x.to(at::kDouble);
    at::Tensor stats =
        at::cat({channel_sum(xd), channel_sum(xd * xd),
                 at::full({1}, static_cast<double>(x.numel() / std::max<std::int64_t>(channels, 1)), at::kDouble)});
    c->allreduce_sum(stats);
    const double count = stats[2 * channels].item<double>();
    const at::Tensor mean = stats.narrow(0, 0, channels) / count;
    const at::Tensor var = (stats.narrow(0, channels, channels) / count - mean * mean).clamp_min(0);
    const at::Tensor invstd = (var + options->eps()).rsqrt();
    if (options->track_running_stats()) {
      torch::NoGradGuard no_grad;
      num_batches_tracked += 1;
      const double m = options->momentum() ? *options->momentum() : 1.0 / num_batches_tracked.item<double>();
      running_mean.mul_(1 - m).add_(mean.to(running_mean.scalar_type()), m);
      running_var.mul_(1 - m).add_((var * (count / std::max(count - 1, 1.0))).to(running_var.scalar_type()), m);
    }
    const at::Tensor xhat = ((xd - per_channel(mean, dims)) * per_channel(invstd, dims)).to(x.scalar_type());
    ctx->save_for_backward({xhat, weight, invstd.to(x.scalar_type())});
    ctx->saved_data["count"] = count;
    ctx->saved_data["collective"] = reinterpret_cast<std::int64_t>(c);
    return weight.defined() ? xhat * per_channel(weight, dims) + per_channel(bias, dims) : xhat;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& xhat = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& invstd = saved[2];
    const double count = ctx->saved_data["count"].toDouble();
    auto* c = reinterpret_cast<Collective*>(ctx->saved_data["collective"].toInt());
    const at::Tensor dy = grads[0];
    const std::int64_t dims = dy.dim();
    const at::Tensor sum_dy = channel_sum(dy), sum_dy_xhat = channel_sum(dy * xhat);
    // The statistics saw every rank's examples, so their gradient terms sum over every rank too.
    at::Tensor global = at::cat({sum_dy, sum_dy_xhat}).to(at::kDouble);
    c->allreduce_sum(global);
    const std::int64_t channels = sum_dy.size(0);
    const at::Tensor mean_dy = (global.narrow(0, 0, channels) / count).to(dy.scalar_type());
    const at::Tensor mean_dy_xhat = (global.narrow(0, channels, channels) / count).to(dy.scalar_type());
    const at::Tensor scale = weight.defined() ? weight * invstd : invstd;
    const at::Tensor dx =
        per_channel(scale, dims) * (dy - per_channel(mean_dy, dims) - xhat * per_channel(mean_dy_xhat, dims));
    // This rank's share of the affine gradients; the gradient sync averages them like any other.
    const at::Tensor none;
    return {dx, weight.defined() ? sum_dy_xhat : none, weight.defined() ? sum_dy : none, none, none, none, none, none};
  }
};

}  // namespace

std::size_t enable_sync_batch_norm(torch::nn::Module& module, Collective& c) {
  std::size_t n = 0;
  std::string plain;
  for (const auto& m : module.named_modules()) {
    if (auto* bn = dynamic_cast<SyncableNorm*>(m.value().get())) {
      bn->sync = [&c](const torch::Tensor& x, const torch::nn::BatchNormOptions& o, torch::Tensor& weight,
                      torch::Tensor& bias, torch::Tensor& running_mean, torch::Tensor& running_var,
                      torch::Tensor& tracked) {
        return SyncBatchNorm::apply(x, weight, bias, running_mean, running_var, tracked, &o, &c);
      };
      ++n;
    } else if (m.value()->name().find("BatchNorm") != std::string::npos) {
      plain += (plain.empty() ? "" : ", ") + m.key();
    }
  }
  if (!plain.empty())
    throw std::runtime_error("train.sync_bn: BatchNorm layer(s) " + plain +
                             " are torch::nn modules, which trex cannot synchronise; build the model plugin on "
                             "trex::BatchNorm2d (trex/plugin_kit/batch_norm.h) or set train.sync_bn: false");
  return n;
}

}  // namespace trex
