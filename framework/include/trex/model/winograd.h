#pragma once
// Winograd convolutions in fp32. LibTorch 1.13 runs every convolution as
// oneDNN's direct algorithm; oneDNN itself also has Winograd F(4x4, 3x3) for
// 3x3 stride-1 convolutions on AVX-512 CPUs, which does about a quarter of
// the multiplications. Measured on a 2-core EPYC (batch 64, reorders from and
// to channels-last included): 1.4x at 64 channels and 56 px, up to 2.6x at
// 256-512 channels (tools/bench/README.md). Frozen backbones get it through
// their fused convolutions (model/fused_conv.h); trained layers through
// winograd_conv2d_train.
#include <ATen/core/Tensor.h>
#include <torch/nn/options/conv.h>

namespace trex {

/// Whether this CPU and oneDNN run fp32 Winograd (AVX-512); checked once.
bool winograd_available();

/// conv2d(x, weight, bias, stride 1, padding 1) by Winograd with autograd:
/// forward, input gradient and weight (and bias) gradient all by oneDNN's
/// Winograd primitives. For training fp32 models on AVX-512 CPUs (the
/// convolutions trex::Conv2d hands it, plugin_kit/conv.h); channel counts that
/// are multiples of 16. `bias` may be undefined.
at::Tensor winograd_conv2d_train(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

/// Whether winograd_conv2d_train computes a layer of these options: 3x3,
/// stride 1, padding 1 (zeros), undilated, ungrouped, channel counts that are
/// multiples of 16 and at least 64 (where it measured faster than LibTorch's
/// kernels in training).
bool winograd_fits(const torch::nn::Conv2dOptions& options);

}  // namespace trex
