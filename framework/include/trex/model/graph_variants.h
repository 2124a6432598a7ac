#pragma once
// The ways one traced frozen backbone can run as a graph (model/inference_graph.h
// picks among them): frozen by LibTorch (BatchNorm folded into the
// convolutions, constants propagated), in oneDNN's blocked layouts
// (optimize_for_inference), in channels-last, with trex's fused convolutions
// (model/fused_conv.h), and under bf16 autocast with bf16 weights. Their order is the measured one (the reasons beside
// each): the inference graph takes the first that gives the eager output.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/csrc/jit/api/module.h>

namespace trex {

/// How far an fp32 graph may be from the eager modules: rounding only.
constexpr double kFp32Tolerance = 1e-4;
/// How far a bf16 graph may be from the eager modules under bf16 autocast,
/// which round at other places (BatchNorm folded into bf16 weights against
/// BatchNorm after the bf16 convolution): each is 0.2-1.1% from fp32 for
/// ResNet-18/50, VGG16 and InceptionV3 at 224-299 px; a wrong graph is off by
/// order 1.
constexpr double kBf16Tolerance = 5e-2;

struct GraphVariant {
  torch::jit::Module module;
  std::string form;         ///< "fused", "oneDNN", "frozen", "channels-last frozen", each with "bf16 " under autocast
  at::ScalarType dtype;     ///< what its input is cast to
  at::MemoryFormat layout;  ///< and laid out as
  double tolerance;         ///< how far from the eager output it may be (relative)
  bool fallback;            ///< measured slower where another variant runs: used only if none of those does
};

/// One variant, built when called: none where its pass fails or it does not apply.
using VariantBuilder = std::function<std::optional<GraphVariant>()>;

/// The variants of `traced` (a module traced in eval mode and fp32 on `x`'s
/// kind of input) worth trying for `x`, the first choice first, the fallbacks
/// among them marked once built; under bf16 autocast
/// (at::autocast::is_cpu_enabled()) the bf16 ones. Built one by one, as they
/// are tried: the first usually serves, and the others' passes
/// (optimize_for_inference, freezing a clone) would cost the first batch.
std::vector<VariantBuilder> graph_variant_builders(const torch::jit::Module& traced, const at::Tensor& x);

/// All of them built, in that order (tests, tools/bench/graph_variants.cpp).
std::vector<GraphVariant> graph_variants(const torch::jit::Module& traced, const at::Tensor& x);

/// `x` through `v`, cast and laid out for it, without autocast (which the
/// graph executor would apply to the graph itself), in `x`'s layout again.
at::Tensor run_variant(GraphVariant& v, const at::Tensor& x);

/// Autocast off for a scope, as it was after.
class NoAutocast {
 public:
  NoAutocast();
  ~NoAutocast();
  NoAutocast(const NoAutocast&) = delete;
  NoAutocast& operator=(const NoAutocast&) = delete;

 private:
  bool was_;
};

}  // namespace trex
