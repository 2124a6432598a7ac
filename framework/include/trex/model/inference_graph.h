#pragma once
// A frozen part of a network run as an inference graph: traced into
// TorchScript and run as one of its variants (model/graph_variants.h: frozen
// with BatchNorm folded, oneDNN's blocked layouts, channels-last, trex's fused
// convolutions; bf16 weights under bf16 autocast): the first that gives the eager output. A frozen
// ResNet-18 at 224 px ran at 82 img/s this way against 42 eager
// (tools/bench/transfer.sh).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/module.h>

#include "trex/model/graph_variants.h"

namespace trex {

/// A TorchScript module whose forward is `forward` traced on `example`; its
/// attributes are `module`'s own tensors, so the trace reads them as
/// parameters and buffers, not constants (export and the inference graph).
/// `output`, when given, receives what forward returned while traced.
torch::jit::Module trace_module(torch::nn::Module& module, const std::function<at::Tensor(const at::Tensor&)>& forward,
                                const at::Tensor& example, const std::string& qualname, at::Tensor* output = nullptr);

class InferenceGraph {
 public:
  using Forward = std::function<at::Tensor(const at::Tensor&)>;
  /// `forward` must not depend on training mode and must only read `module`'s
  /// tensors (the caller checks: a frozen backbone, BatchNorm frozen).
  InferenceGraph(std::shared_ptr<torch::nn::Module> module, Forward forward);
  /// `forward(x)` through the graph for x's sizes past the batch, dtype,
  /// layout and autocast state, compiled on first use. A graph is traced on
  /// the batch's first rows (a trace costs an eager forward); its first
  /// variant that gives the eager output on the batch serves (1e-4 relative;
  /// under bf16 autocast, where the graph runs in bf16 throughout, 5e-2: both
  /// round), else that input kind runs eager (and under autocast to another
  /// type). Each batch size, the first included, is checked once: the graph's
  /// output must have the batch's rows, and its first two and last rows must
  /// equal the eager modules' on them (a trace may record sizes as
  /// constants); a size that fails gets a graph traced on its whole batch.
  /// Any change to a tensor of the module (in place or replaced: a checkpoint
  /// loaded) recompiles.
  at::Tensor operator()(const at::Tensor& x);
  /// Graphs compiled so far (tests; a run prints nothing per compile).
  std::size_t compiled() const { return compiles_; }
  /// What each input kind compiled so far runs as (GraphVariant::form, or "eager").
  std::vector<std::string> forms() const;

 private:
  struct Graph {
    std::string key;
    std::optional<GraphVariant> variant;  ///< none: no variant gave the eager output; eager it is
    std::vector<std::int64_t> batches;    ///< batch sizes it gave the eager output for
    /// Traced on a batch's first rows, no variant fit the batch: a size may be
    /// a constant of the trace, so each batch size gets a graph traced on it.
    bool per_size = false;
  };
  std::vector<std::pair<const void*, std::uint32_t>> fingerprint() const;
  /// The modules traced in eval mode and fp32 on `x`.
  std::optional<torch::jit::Module> trace_in_eval(const at::Tensor& x) const;
  struct Compiled {
    Graph graph;
    at::Tensor output;  ///< the batch through its variant; undefined where none fits
  };
  /// The graph for `key` traced on `batch`'s first rows, or on all of it
  /// (`whole`), and its first variant that gives the eager output on the
  /// batch as through() checks a new size.
  Compiled compile(const std::string& key, const at::Tensor& batch, bool whole) const;
  /// `x` through `g`, checked as operator() says when its batch size is new;
  /// nullopt when that check fails.
  std::optional<at::Tensor> through(Graph& g, const at::Tensor& x) const;

  std::shared_ptr<torch::nn::Module> module_;
  Forward forward_;
  std::vector<Graph> graphs_;                                   ///< a few input kinds: image size, dtype, layout
  std::vector<std::pair<const void*, std::uint32_t>> weights_;  ///< the fingerprint they were built from
  std::size_t compiles_ = 0;
};

/// max |a - b| / max |b|, in fp32.
double relative_difference(const at::Tensor& a, const at::Tensor& b);

}  // namespace trex
