#include "trex/model/inference_graph.h"

#include <algorithm>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/utils.h>

#include "trex/model/graph_variants.h"

namespace trex {
namespace {

/// A TorchScript module tree whose attributes are the very tensors of the C++
/// module, so the tracer records reads of them as attribute reads, not constants.
torch::jit::Module mirror(const torch::nn::Module& m, const std::string& qualname,
                          const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  torch::jit::Module out(c10::QualifiedName(qualname), cu, /*shouldMangle=*/true);
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.register_parameter(p.key(), p.value(), false);
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.register_buffer(b.key(), b.value());
  for (const auto& c : m.named_children())
    out.register_module(c.key(), mirror(*c.value(), qualname + "." + c.key(), cu));
  return out;
}

/// What a graph is specific to besides the batch size, which it is checked
/// against on first use (a trace may record it as a constant).
std::string input_kind(const at::Tensor& x) {
  std::ostringstream k;
  k << x.sizes().slice(1) << " " << x.scalar_type() << " " << x.device()
    << (x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) ? " nhwc" : "")
    << (at::autocast::is_cpu_enabled() ? " autocast" : "");
  return k.str();
}

/// The rows a graph is traced on: 2, so that a batch-mixing op shows, at a
/// 32nd of a 64-image batch's eager forward.
at::Tensor first_rows(const at::Tensor& x) { return x.narrow(0, 0, std::min<std::int64_t>(x.size(0), 2)); }

/// The rows a batch is checked on: the first two and the last, where a
/// kernel's tail handling shows (LibTorch 1.13's oneDNN hardswish left the
/// last image's channel padding unwritten) and where a size the trace
/// recorded as a constant points.
at::Tensor checked_rows(std::int64_t batch) {
  std::vector<std::int64_t> rows;
  for (const std::int64_t r : {std::int64_t{0}, std::int64_t{1}, batch - 1})
    if (r >= 0 && r < batch && (rows.empty() || rows.back() < r)) rows.push_back(r);
  return at::tensor(rows, at::TensorOptions(at::kLong));
}

/// A graph's output on a batch of `batch` rows, at `rows`, against the eager modules' on those rows.
bool agrees(const at::Tensor& got, const at::Tensor& want, std::int64_t batch, const at::Tensor& rows,
            double tolerance) {
  return got.dim() > 0 && got.dim() == want.dim() && got.size(0) == batch &&
         got.sizes().slice(1) == want.sizes().slice(1) && want.size(0) == rows.size(0) &&
         relative_difference(got.index_select(0, rows.to(got.device())), want) <= tolerance;
}

constexpr std::size_t kMaxGraphs = 8;

}  // namespace

torch::jit::Module trace_module(torch::nn::Module& module, const std::function<at::Tensor(const at::Tensor&)>& forward,
                                const at::Tensor& example, const std::string& qualname, at::Tensor* output) {
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module script = mirror(module, qualname, cu);
  auto traced = torch::jit::tracer::trace(
      {example}, [&](torch::jit::Stack inputs) -> torch::jit::Stack { return {forward(inputs[0].toTensor())}; },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false, /*force_outplace=*/false,
      &script);
  const auto name = c10::QualifiedName(*script.type()->name(), "forward");
  script.type()->addMethod(script._ivalue()->compilation_unit()->create_function(name, traced.first->graph));
  if (output) *output = traced.second.at(0).toTensor();
  return script;
}

InferenceGraph::InferenceGraph(std::shared_ptr<torch::nn::Module> module, Forward forward)
    : module_(std::move(module)), forward_(std::move(forward)) {}

std::vector<std::pair<const void*, std::uint32_t>> InferenceGraph::fingerprint() const {
  std::vector<std::pair<const void*, std::uint32_t>> out;
  for (const auto& t : module_->parameters()) out.emplace_back(t.data_ptr(), t._version());
  for (const auto& t : module_->buffers()) out.emplace_back(t.data_ptr(), t._version());
  return out;
}

std::optional<torch::jit::Module> InferenceGraph::trace_in_eval(const at::Tensor& x) const {
  // Traced in eval mode, each module's own mode restored after (a parent's
  // train() would also switch the frozen BatchNorm layers under it), in fp32:
  // the bf16 variants cast the frozen graph, autocast's casts are not recorded.
  NoAutocast fp32;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes;
  for (const auto& m : module_->modules()) modes.emplace_back(m, m->is_training());
  module_->eval();
  std::optional<torch::jit::Module> traced;
  try {
    traced = trace_module(*module_, forward_, x, "__torch__.trex.InferenceGraph");
    traced->eval();
  } catch (const std::exception&) {  // a forward the tracer cannot record runs eager, as before
  }
  for (auto& [m, training] : modes) m->train(training);  // parents first, so children keep their own
  return traced;
}

InferenceGraph::Compiled InferenceGraph::compile(const std::string& key, const at::Tensor& batch, bool whole) const {
  torch::NoGradGuard no_grad;
  const std::int64_t n = batch.size(0);
  const auto traced = trace_in_eval(whole ? batch : first_rows(batch));
  if (!traced) return {Graph{key, std::nullopt, {}}, {}};  // eager it is
  // Each variant is checked on this whole batch, at the rows through() checks
  // new batch sizes on, against the eager modules there: one check, and the
  // batch's output is the winner's (a check on the traced rows first cost
  // VGG16 in bf16 0.7 s: a variant's first run at another size makes and
  // packs for its own oneDNN primitives).
  const at::Tensor rows = checked_rows(n);
  at::Tensor want;
  const auto check = [&](GraphVariant& v) -> at::Tensor {
    try {
      at::Tensor got = run_variant(v, batch);
      if (!want.defined()) want = forward_(batch.index_select(0, rows.to(batch.device())));
      return agrees(got, want, n, rows, v.tolerance) ? got : at::Tensor();
    } catch (const std::exception&) {  // an op a pass rewrote fails on this shape: the next variant
      return {};
    }
  };
  // The first variant that gives what the eager modules give on this very
  // input, fallbacks last, each built only when its turn comes. A fixed
  // order, not a race timed in the run: the same run computes the same
  // features, resumed or not.
  std::vector<GraphVariant> fallbacks;
  for (const auto& build : graph_variant_builders(*traced, batch)) {
    std::optional<GraphVariant> v;
    try {
      v = build();
    } catch (const std::exception&) {  // a pass that fails on this graph: the next variant
    }
    if (v && whole) v->chunk = 0;  // traced on this batch size: run whole, as traced
    if (v && v->fallback) {
      fallbacks.push_back(std::move(*v));
    } else if (v) {
      if (at::Tensor got = check(*v); got.defined()) return {Graph{key, std::move(*v), {n}}, got};
    }
  }
  for (auto& v : fallbacks)
    if (at::Tensor got = check(v); got.defined()) return {Graph{key, std::move(v), {n}}, got};
  return {Graph{key, std::nullopt, {}, !whole}, {}};
}

std::optional<at::Tensor> InferenceGraph::through(Graph& g, const at::Tensor& x) const {
  const std::int64_t batch = x.size(0);
  if (std::find(g.batches.begin(), g.batches.end(), batch) != g.batches.end()) return run_variant(*g.variant, x);
  at::Tensor got;
  try {
    got = run_variant(*g.variant, x);
  } catch (const std::exception&) {  // a size recorded as a constant no longer fits
  }
  const at::Tensor rows = checked_rows(batch);
  if (!got.defined() ||
      !agrees(got, forward_(x.index_select(0, rows.to(x.device()))), batch, rows, g.variant->tolerance))
    return std::nullopt;
  g.batches.push_back(batch);
  return got;
}

at::Tensor InferenceGraph::operator()(const at::Tensor& x) {
  // Autocast to another type than bf16 (fp16 on a CPU) runs the eager modules.
  if (at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() != at::kBFloat16) return forward_(x);
  // The variants are CPU rewrites (oneDNN); on a GPU the eager modules run, under the GPU's own autocast.
  if (!x.device().is_cpu()) return forward_(x);
  torch::NoGradGuard no_grad;
  auto now = fingerprint();
  if (now != weights_) graphs_.clear(), weights_ = std::move(now);
  const std::string kind = input_kind(x), exact = kind + " batch " + std::to_string(x.size(0));
  const auto find = [&](const std::string& key) {
    return std::find_if(graphs_.begin(), graphs_.end(), [&](const Graph& g) { return g.key == key; });
  };
  const auto add = [&](const std::string& key, bool whole) {
    if (graphs_.size() == kMaxGraphs) graphs_.erase(graphs_.begin());
    Compiled c = compile(key, x, whole);
    graphs_.push_back(std::move(c.graph));
    ++compiles_;
    return c;
  };
  auto it = find(exact);
  if (it == graphs_.end()) it = find(kind);
  if (it == graphs_.end()) {  // a new kind: traced on its first rows
    const Compiled c = add(kind, false);
    if (c.output.defined()) return c.output;
    it = std::prev(graphs_.end());
  } else if (it->variant) {
    if (auto out = through(*it, x)) return *out;
  }
  if (!it->variant && !it->per_size) return forward_(x);
  // This batch size does not fit the graph (a trace recorded it as a
  // constant): one traced on this whole batch, checked again (rare).
  if (const Compiled c = add(exact, true); c.output.defined()) return c.output;
  return forward_(x);
}

std::vector<std::string> InferenceGraph::forms() const {
  std::vector<std::string> out;
  for (const auto& g : graphs_) out.push_back(g.variant ? g.variant->form : "eager");
  return out;
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor fa = a.to(at::kFloat), fb = b.to(at::kFloat);
  return (fa - fb).abs().max().item<double>() / std::max(1e-12, fb.abs().max().item<double>());
}

}  // namespace trex
