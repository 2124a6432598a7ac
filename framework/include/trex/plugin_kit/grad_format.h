#pragma once
// Gradients in the memory format of their tensor. In LibTorch 1.13 two
// backward kernels hand channels-last activations an NCHW gradient:
// adaptive_avg_pool2d's backward, and the sum autograd forms where one
// activation feeds two branches (a residual block's input). The elementwise
// backward kernels then run on mixed layouts through a slow strided path:
// ReLU's backward took 28-32 ms of a 200-220 ms bf16 step of fast.yaml's
// ResNet (batch 256, 2 cores), against 3 ms with the gradient turned back to
// channels-last at those two places. The copy costs less than the mixed layouts.
#include <torch/autograd.h>

namespace trex {

/// Identity forward; backward returns the gradient contiguous in the forward input's memory format.
struct KeepGradFormat : torch::autograd::Function<KeepGradFormat> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    ctx->saved_data["channels_last"] = x.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const bool channels_last = ctx->saved_data["channels_last"].toBool();
    return {grads[0].contiguous(channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous)};
  }
};

/// `x` itself, except that in training its gradient comes back in x's memory
/// format. Put it where a channels-last activation is used twice or pooled.
inline at::Tensor keep_grad_format(const at::Tensor& x) {
  if (x.dim() != 4 || !x.requires_grad() || !torch::autograd::GradMode::is_enabled()) return x;
  return KeepGradFormat::apply(x);
}

}  // namespace trex
