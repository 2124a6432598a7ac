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
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/csrc/jit/api/module.h>

namespace trex {

/// relu?(conv2d(x, weight, bias, stride, padding, dilation) + residual?),
/// ungrouped, as one oneDNN primitive: Winograd where `winograd` (fp32, 3x3,
/// stride 1, padding 1, channel counts that are multiples of 16), else
/// oneDNN's direct algorithm on channels-last. `x`, `weight` and `residual`:
/// fp32 or bf16, all the same. Where oneDNN has no primitive for a problem it
/// is LibTorch's own ops. The result is channels-last (any layout in: x's).
at::Tensor fused_conv2d(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                        const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& padding,
                        const std::vector<std::int64_t>& dilation, bool winograd,
                        const c10::optional<at::Tensor>& residual, bool relu);

/// Rewrites each ungrouped 2-D convolution of the frozen `module` whose
/// weight is a constant (fp32 or bf16) into trex::fused_conv2d, folding in an
/// add of another tensor that is its only use and a ReLU that is the only use
/// of either; fp32 3x3 stride-1 ones with channel counts that are multiples of
/// 16 as Winograd where winograd_available(). Returns how many it rewrote.
std::size_t use_fused_convs(torch::jit::Module& module);

}  // namespace trex
