#pragma once
// Convolutions of frozen backbones as trex's own oneDNN primitives, each with
// what follows it fused in: the ReLU, and a residual add with its ReLU
// (oneDNN's post-ops). LibTorch 1.13 runs a frozen channels-last graph's
// convolution, residual add and ReLU as three passes over memory, reorders
// each weight to oneDNN's layout on every call, and never asks oneDNN for
// Winograd. Here the weight is packed once, the add and the ReLU are done
// while the convolution's output is in cache, and fp32 3x3 stride-1
// convolutions run as Winograd F(4x4, 3x3) on AVX-512 CPUs (model/winograd.h),
// which does about a quarter of the multiplications.
// Winograd rounds differently from the direct algorithm (about 1e-5 relative
// per layer), so these run only where a graph variant is checked against the
// eager modules (model/graph_variants.h).
#include <cstddef>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/csrc/jit/api/module.h>

namespace trex {

/// relu?(conv2d(x, weight, bias, stride, padding, dilation) + residual?),
/// ungrouped, as one oneDNN primitive: Winograd where `winograd` (3x3,
/// stride 1, padding 1, channel counts that are multiples of 16), else
/// oneDNN's direct algorithm on channels-last. `x`, `weight` and `residual`:
/// fp32 or bf16, all the same. Winograd is fp32 only: bf16 ones run it with
/// their activations converted on the way in and out where that is faster
/// than bf16's direct kernel (256+ channels at 28+ px), else direct. Where
/// oneDNN has no primitive for a problem it is LibTorch's own ops. The result
/// is channels-last (any layout in: x's).
at::Tensor fused_conv2d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                        const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& padding,
                        const std::vector<std::int64_t>& dilation, bool winograd,
                        const c10::optional<at::Tensor>& residual, bool relu);

/// Whether fused_conv2d runs a bf16 convolution of a [N, C, H, W] input `x`
/// and a [K, C, 3, 3] weight as fp32 Winograd, where asked to: 256+ channels
/// in and out at 28+ px.
bool winograd_pays_in_bf16(const std::vector<std::int64_t>& x, const std::vector<std::int64_t>& weight);

/// The sizes of the frozen `module`'s convolutions for input `x`: as `traced`
/// (the module before freezing) recorded them, or else by shape analysis
/// (zeros where it cannot tell).
struct ConvSizes {
  /// How many use_fused_convs would mark for Winograd that fused_conv2d runs as Winograd in bf16.
  std::size_t bf16_winograd = 0;
  /// The most elements one image's output of one of them has (VGG16 at 224 px: 64 x 224 x 224).
  std::int64_t largest_output = 0;
};
ConvSizes conv_sizes(const torch::jit::Module& traced, const torch::jit::Module& module, const at::Tensor& x);

/// Rewrites each ungrouped 2-D convolution of the frozen `module` whose
/// weight is a constant (fp32 or bf16) into trex::fused_conv2d, folding in an
/// add of another tensor that is its only use and a ReLU that is the only use
/// of either; 3x3 stride-1 ones with channel counts that are multiples of 16
/// as Winograd where winograd_available() (bf16 ones where it pays, above).
/// Returns how many it rewrote.
std::size_t use_fused_convs(torch::jit::Module& module);

}  // namespace trex
