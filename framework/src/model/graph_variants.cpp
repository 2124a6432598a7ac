#include "trex/model/graph_variants.h"

#include "trex/model/precision.h"
#include "trex/model/fused_conv.h"
#include "trex/model/winograd.h"

#include <algorithm>
#include <functional>
#include <optional>

#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

namespace trex {
namespace {

/// Every floating tensor constant of `b` (and of its sub-blocks) replaced by
/// `f` of it: a frozen graph's weights, BatchNorm already folded into them.
void map_constants(torch::jit::Block* b, const std::function<at::Tensor(const at::Tensor&)>& f) {
  static const auto mkldnn_constant = c10::Symbol::fromQualString("prim::ConstantMKLDNNTensor");
  for (torch::jit::Node* n : b->nodes()) {
    for (torch::jit::Block* sub : n->blocks()) map_constants(sub, f);
    if ((n->kind() != c10::prim::Constant && n->kind() != mkldnn_constant) || !n->hasAttribute(c10::attr::value) ||
        n->kindOf(c10::attr::value) != torch::jit::AttributeKind::t)
      continue;
    const at::Tensor v = n->t(c10::attr::value);
    if (!v.is_floating_point()) continue;
    if (v.is_mkldnn()) {  // optimize_for_inference's weights, in oneDNN's layouts
      n->t_(c10::attr::value, f(v.to_dense()).to_mkldnn());
      continue;
    }
    n->t_(c10::attr::value, f(v));
    n->output()->inferTypeFrom(n->t(c10::attr::value));
  }
}

void map_constants(torch::jit::Module& m, const std::function<at::Tensor(const at::Tensor&)>& f) {
  map_constants(m.get_method("forward").graph()->block(), f);
}

bool channels_last(const at::Tensor& x) { return x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast); }

/// Whether `m` has one of the element-wise ops optimize_for_inference runs
/// on oneDNN's blocked buffers itself. In 1.13 they leave the channel padding
/// of the last image unwritten when the channels are not a multiple of 16
/// (hardswish after a 20-channel conv, batch 4: the last image off by 0.7
/// relative, the others exact), so MobileNetV3's features were silently wrong
/// for the last image of every batch. What the buffer held before decides how
/// wrong, so the variant's check on two rows cannot be trusted to see it.
bool has_padding_bug(const torch::jit::Module& m) {
  static const std::vector<std::string> broken = {"prim::MKLDNNHardSwish", "prim::MKLDNNHardSigmoid",
                                                  "prim::MKLDNNHardTanh", "prim::MKLDNNClamp"};
  for (const torch::jit::Node* node : m.get_method("forward").graph()->nodes()) {
    std::string kind = node->kind().toQualString();
    if (!kind.empty() && kind.back() == '_') kind.pop_back();  // the in-place forms are the ones the pass emits
    if (std::find(broken.begin(), broken.end(), kind) != broken.end()) return true;
  }
  return false;
}

/// optimize_for_inference on a copy of `frozen`; none where the pass fails
/// (MobileNet's hardtanh in 1.13) or its graph has an op with the padding bug.
std::optional<torch::jit::Module> one_dnn(const torch::jit::Module& frozen) {
  try {
    torch::jit::Module copy = frozen.clone();
    torch::jit::Module out = torch::jit::optimize_for_inference(copy);
    if (has_padding_bug(out)) return std::nullopt;
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// How many nodes of `kind` the graph of `m` has.
std::size_t count_nodes(const torch::jit::Module& m, const char* kind) {
  const auto symbol = c10::Symbol::fromQualString(kind);
  std::size_t n = 0;
  for (const torch::jit::Node* node : m.get_method("forward").graph()->nodes()) n += node->kind() == symbol;
  return n;
}

/// Where a oneDNN graph goes back to plain layouts: once at its end, or
/// around every op the pass does not convert (InceptionV3's concatenations: 44).
std::size_t to_dense_count(const torch::jit::Module& m) { return count_nodes(m, "aten::to_dense"); }

/// In exact channels-last strides: a one-channel weight (a grayscale stem's)
/// would keep NCHW strides under contiguous(ChannelsLast) (model/precision.h).
at::Tensor channels_last_weight(const at::Tensor& t) { return t.dim() == 4 ? in_channels_last(t) : t; }

/// The channels-last graph with its convolutions as trex's own oneDNN
/// primitives, the add and ReLU after each fused in, fp32 3x3 ones as
/// Winograd (model/fused_conv.h), in `dtype` (its weights cast); none for
/// other than images on the CPU or without AVX-512 (where it was not measured).
std::optional<GraphVariant> fused(const torch::jit::Module& frozen, bool cpu_images, at::ScalarType dtype,
                                  double tolerance, const ConvSizes& sizes) {
  if (!cpu_images || !winograd_available()) return std::nullopt;
  GraphVariant v{frozen.clone(), "fused", dtype, at::MemoryFormat::ChannelsLast, tolerance, false};
  if (sizes.largest_output >= kChunkedOutput) v.chunk = kChunkImages;
  map_constants(v.module, [dtype](const at::Tensor& t) { return channels_last_weight(t).to(dtype); });
  if (use_fused_convs(v.module) == 0) return std::nullopt;
  if (dtype == at::kBFloat16) v.form = "bf16 fused";
  return v;
}

/// `build` run without autocast, which freezing and the passes would record into the graph.
VariantBuilder without_autocast(VariantBuilder build) {
  return [build]() {
    NoAutocast fp32;
    return build();
  };
}

/// `build`'s graph with bf16 weights, fed bf16. Autocast's eager modules cast
/// every weight per batch and run BatchNorm as a pass of its own (ResNet-50,
/// channels-last, s/batch: eager 0.84, frozen 0.77, oneDNN 0.72).
VariantBuilder in_bf16(VariantBuilder build) {
  return [build]() {
    auto v = build();
    if (v) {
      map_constants(v->module, [](const at::Tensor& t) { return t.to(at::kBFloat16); });
      v->form = "bf16 " + v->form, v->dtype = at::kBFloat16, v->tolerance = kBf16Tolerance;
    }
    return v;
  };
}

}  // namespace

NoAutocast::NoAutocast() : was_(at::autocast::is_cpu_enabled()) { at::autocast::set_cpu_enabled(false); }
NoAutocast::~NoAutocast() { at::autocast::set_cpu_enabled(was_); }

std::vector<VariantBuilder> graph_variant_builders(const torch::jit::Module& traced, const at::Tensor& x) {
  const bool bf16 = at::autocast::is_cpu_enabled(), cpu = x.device().is_cpu(), images = x.dim() == 4 && cpu;
  const bool cl = channels_last(x), fp32_input = x.scalar_type() == at::kFloat;
  const auto same = x.dim() == 4 ? x.suggest_memory_format() : at::MemoryFormat::Contiguous;
  NoAutocast fp32;  // freezing would insert autocast's casts into the graph
  const torch::jit::Module frozen = torch::jit::freeze(traced);
  const ConvSizes sizes = images && winograd_available() ? conv_sizes(traced, frozen, x) : ConvSizes{};
  // oneDNN's blocked layouts: converted once in and once out they won (s/batch,
  // batch 64, fp32 NCHW: ResNet-18 0.93 -> 0.69, ResNet-50 1.86 -> 1.50; bf16
  // channels-last: 0.33 -> 0.29, 0.84 -> 0.72); converted around each
  // concatenation they lost (InceptionV3 bf16 1.09 -> 1.85): a fallback there.
  const VariantBuilder blocked = [=]() -> std::optional<GraphVariant> {
    if (!fp32_input || !cpu) return std::nullopt;
    auto m = one_dnn(frozen);
    if (!m) return std::nullopt;
    return GraphVariant{*m, "oneDNN", at::kFloat, same, kFp32Tolerance, to_dense_count(*m) > 1};
  };
  // Channels-last convolutions beat NCHW ones in 1.13 (fp32 frozen, s/batch:
  // ResNet-18 0.93 -> 0.64, ResNet-50 1.86 -> 1.62, InceptionV3 at 299 px 3.32
  // -> 2.25), so a graph fed NCHW gets a channels-last twin, and the NCHW
  // graph is a fallback.
  const VariantBuilder twin = [=]() -> std::optional<GraphVariant> {
    if (!images) return std::nullopt;
    GraphVariant v{frozen.clone(), cl ? "frozen" : "channels-last frozen",
                   at::kFloat,     at::MemoryFormat::ChannelsLast,
                   kFp32Tolerance, false};
    map_constants(v.module, channels_last_weight);
    return v;
  };
  const VariantBuilder nchw = [=]() -> std::optional<GraphVariant> {
    if (cl) return std::nullopt;
    return GraphVariant{frozen, "frozen", at::kFloat, same, kFp32Tolerance, x.dim() == 4};
  };
  std::vector<VariantBuilder> order;
  if (!bf16) {
    // fp32 on AVX-512: trex's fused convolutions first, Winograd wherever the
    // graph has 3x3 convolutions for it (s/batch, batch 64, channels-last
    // frozen against fused: ResNet-50 1.63 -> 1.37, ResNet-18 0.61 -> 0.42,
    // VGG16 5.17 -> 2.63, InceptionV3 at 299 px 2.27 -> 1.99;
    // tools/bench/graph_variants.cpp). Then, in fp32 from channels-last input,
    // oneDNN's reorders in and out lose (ResNet-18 0.64 against 0.73,
    // ResNet-50 1.62 against 1.80): frozen before them.
    const VariantBuilder f = [=] { return fused(frozen, images, at::kFloat, kFp32Tolerance, sizes); };
    order =
        cl ? std::vector<VariantBuilder>{f, twin, blocked, nchw} : std::vector<VariantBuilder>{f, blocked, twin, nchw};
  } else {
    // trex's fused convolutions in bf16 come after oneDNN's blocked layouts,
    // which won where they are no fallback (s/batch, batch 64, from
    // channels-last, bf16 oneDNN against fused: ResNet-50 0.82 against 0.86;
    // ResNet-18 the exception, 0.333 against 0.303), and before the
    // channels-last graph (InceptionV3 at 299 px, where oneDNN is a fallback:
    // 1.12 -> 1.06; tools/bench/graph_variants.cpp). They come first where
    // some of them run as fp32 Winograd (VGG16 at 224 px: 2.55 -> 2.17), and
    // where the graph concatenates, which makes oneDNN's a fallback: then it
    // is not built at all when fused wins (InceptionV3: 0.24 s of the first batch).
    const VariantBuilder f = [=] { return fused(frozen, images, at::kBFloat16, kBf16Tolerance, sizes); };
    if (sizes.bf16_winograd > 0 || count_nodes(frozen, "aten::cat") > 0)
      order = {f, in_bf16(blocked), in_bf16(twin), in_bf16(nchw)};
    else
      order = {in_bf16(blocked), f, in_bf16(twin), in_bf16(nchw)};
  }
  for (auto& build : order) build = without_autocast(build);
  return order;
}

std::vector<GraphVariant> graph_variants(const torch::jit::Module& traced, const at::Tensor& x) {
  std::vector<GraphVariant> out;
  for (const auto& build : graph_variant_builders(traced, x))
    if (auto v = build()) out.push_back(std::move(*v));
  return out;
}

at::Tensor run_variant(GraphVariant& v, const at::Tensor& x) {
  NoAutocast as_compiled;
  // The graph as the passes left it: the executor's own profiling and
  // specialising per input shape cost InceptionV3 in bf16 2.4 s on the first
  // batch and 0.75 s on the second (1.15 s a batch after), and gain nothing
  // once freezing and the variant's passes have run.
  torch::jit::GraphOptimizerEnabledGuard as_rewritten(false);
  const auto through = [&](const at::Tensor& part) {
    return v.module.forward({part.to(v.dtype).contiguous(v.layout)}).toTensor();
  };
  at::Tensor y;
  if (v.chunk > 0 && x.size(0) > v.chunk) {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& part : x.split(v.chunk)) parts.push_back(through(part));
    y = at::cat(parts);
  } else {
    y = through(x);
  }
  return y.dim() == 4 && x.dim() == 4 ? y.contiguous(x.suggest_memory_format()) : y;
}

}  // namespace trex
