#include "trex/model/inference_graph.h"

#include <algorithm>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/utils.h>

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
    << (x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) ? " nhwc" : "");
  return k.str();
}

bool same_output(const at::Tensor& got, const at::Tensor& want) {
  return got.sizes() == want.sizes() && relative_difference(got, want) <= 1e-4;
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

InferenceGraph::Graph InferenceGraph::compile(const std::string& key, const at::Tensor& x, at::Tensor& out) const {
  torch::NoGradGuard no_grad;
  // Traced in eval mode, each module's own mode restored after (a parent's
  // train() would also switch the frozen BatchNorm layers under it).
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes;
  for (const auto& m : module_->modules()) modes.emplace_back(m, m->is_training());
  module_->eval();
  at::Tensor want;
  std::optional<torch::jit::Module> traced;
  try {
    traced = trace_module(*module_, forward_, x, "__torch__.trex.InferenceGraph", &want);
  } catch (const std::exception&) {  // a forward the tracer cannot record runs eager, as before
  }
  for (auto& [m, training] : modes) m->train(training);  // parents first, so children keep their own
  if (!traced) return out = forward_(x), Graph{key, std::nullopt, "eager", {}};
  traced->eval();
  std::vector<Graph> candidates{{key, torch::jit::freeze(*traced), "frozen", {x.size(0)}}};
  // oneDNN's blocked layouts pay in fp32 (the pass converts fp32 ops only):
  // tried first, then plain freezing if it fails or gives other outputs.
  if (x.scalar_type() == at::kFloat && x.device().is_cpu()) try {
      torch::jit::Module copy = candidates.front().module->clone();
      candidates.insert(candidates.begin(), {key, torch::jit::optimize_for_inference(copy), "oneDNN", {x.size(0)}});
    } catch (const std::exception&) {  // the pass itself fails on some graphs (MobileNet's hardtanh in 1.13)
    }
  // A candidate must give what the eager modules give on this very input.
  for (auto& graph : candidates) {
    try {
      out = graph.module->forward({x}).toTensor();
      if (same_output(out, want)) return graph;
    } catch (const std::exception&) {  // an op the pass rewrote fails on this shape: the next candidate
    }
  }
  out = want;
  return {key, std::nullopt, "eager", {}};
}

at::Tensor InferenceGraph::operator()(const at::Tensor& x) {
  // Under bf16 autocast the eager modules measured as fast as a graph traced
  // under it (ResNet-18 at 224 px: 113-124 against 108-113 img/s), which
  // keeps fp32 adds where BatchNorm's casts were: eager it is.
  if (at::autocast::is_cpu_enabled()) return forward_(x);
  torch::NoGradGuard no_grad;
  auto now = fingerprint();
  if (now != weights_) graphs_.clear(), weights_ = std::move(now);
  const std::string kind = input_kind(x), exact = kind + " batch " + std::to_string(x.size(0));
  const auto find = [&](const std::string& key) {
    return std::find_if(graphs_.begin(), graphs_.end(), [&](const Graph& g) { return g.key == key; });
  };
  auto it = find(exact);
  if (it == graphs_.end()) it = find(kind);
  if (it != graphs_.end() && !it->module) return forward_(x);
  if (it != graphs_.end()) {
    const std::int64_t batch = x.size(0);
    if (std::find(it->batches.begin(), it->batches.end(), batch) != it->batches.end())
      return it->module->forward({x}).toTensor();
    // A batch size this graph has not seen (a last, smaller batch): checked
    // against the eager output once, since a trace may have recorded it.
    at::Tensor got;
    try {
      got = it->module->forward({x}).toTensor();
    } catch (const std::exception&) {  // a size recorded as a constant no longer fits
    }
    if (got.defined() && same_output(got, forward_(x))) return it->batches.push_back(batch), got;
  }
  // A kind seen before whose graph does not fit this batch size gets one of its own.
  const std::string key = it == graphs_.end() ? kind : exact;
  if (graphs_.size() == kMaxGraphs) graphs_.erase(graphs_.begin());
  at::Tensor out;
  graphs_.push_back(compile(key, x, out));
  ++compiles_;
  return out;
}

std::vector<std::string> InferenceGraph::forms() const {
  std::vector<std::string> out;
  for (const auto& g : graphs_) out.push_back(g.form);
  return out;
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor fa = a.to(at::kFloat), fb = b.to(at::kFloat);
  return (fa - fb).abs().max().item<double>() / std::max(1e-12, fb.abs().max().item<double>());
}

}  // namespace trex
