#pragma once
// The ways one traced frozen backbone can run as a graph (model/inference_graph.h
// picks among them): frozen by LibTorch (BatchNorm folded into the
// convolutions, constants propagated), in oneDNN's blocked layouts
// (optimize_for_inference), in channels-last, with trex's fused convolutions
// (model/fused_conv.h), and under bf16 autocast with bf16 weights. Their order is the measured one (the reasons beside
// each): the inference graph takes the first that gives the eager output.
#include <cstdint>
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
  std::int64_t chunk = 0;   ///< images per call, 0: the whole batch at once (kChunkImages says where not)
};

/// Images per call of a fused graph whose largest convolution output has
/// kChunkedOutput+ elements an image (VGG16 at 224 px: 64 x 224 x 224 = 3.2M;
/// InceptionV3 at 299 px 1.4M, the ResNets 0.8M). A 64-image batch of VGG16
/// holds 0.4 GB (bf16) to 0.8 GB (fp32) per activation, the next layer's
/// output beside it, most of it memory the process touches for the first
/// time: in 16-image calls a bf16 run's peak memory fell from 2.7 to 1.5 GB
/// and its second step from 3.0-3.4 to 2.2-2.5 s (2.2 s steady), with
/// steady steps alike; fp32 steady 2.76 -> 2.62 s. For InceptionV3 and the
/// ResNets the steady steps were 4-10% slower in such calls.
constexpr std::int64_t kChunkImages = 16;
constexpr std::int64_t kChunkedOutput = 2'000'000;

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

/// `x` through `v`, cast and laid out for it, in v.chunk images a call where
/// it says so, without autocast (which the graph executor would apply to the
/// graph itself), in `x`'s layout again.
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
