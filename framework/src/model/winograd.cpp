#include "trex/model/winograd.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>

#include "onednn.h"

namespace trex {
namespace {

using dnnl::memory;
using onednn::Dims;
using onednn::engine;
using onednn::plain;

dnnl::convolution_forward::primitive_desc describe(const Dims& src, const Dims& dst, std::int64_t k, bool bias,
                                                   bool relu) {
  const auto f32 = memory::data_type::f32;
  const memory::desc s = onednn::blocked16(src), d = onednn::blocked16(dst),
                     w({k, src[1], 3, 3}, f32, memory::format_tag::any), b({k}, f32, memory::format_tag::x);
  const auto fwd = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_winograd;
  const auto desc = bias ? dnnl::convolution_forward::desc(fwd, alg, s, w, b, d, {1, 1}, {1, 1}, {1, 1})
                         : dnnl::convolution_forward::desc(fwd, alg, s, w, d, {1, 1}, {1, 1}, {1, 1});
  dnnl::post_ops ops;
  if (relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return dnnl::convolution_forward::primitive_desc(desc, attr, engine());
}

/// A primitive per problem, and each weight reordered to its Winograd layout
/// once. An entry watches its weight without keeping it: when the graph that
/// holds the weight goes, the packed copy goes with the next lookup, and a
/// new tensor at the same address is not mistaken for the old one.
struct Cache {
  struct Primitive {
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward conv;
  };
  struct Packed {
    c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> weight;
    memory::desc layout;
    at::Tensor bytes;
  };
  std::mutex mutex;
  std::map<std::tuple<Dims, std::int64_t, bool, bool>, Primitive> primitives;
  std::map<const void*, std::vector<Packed>> weights;
};

Cache& cache() {
  static Cache c;
  return c;
}

void drop_expired(Cache& c) {
  for (auto it = c.weights.begin(); it != c.weights.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(), [](const Cache::Packed& p) { return p.weight.expired(); }),
               list.end());
    it = list.empty() ? c.weights.erase(it) : std::next(it);
  }
}

memory packed_weight(Cache& c, const at::Tensor& weight, const memory::desc& layout, dnnl::stream& s) {
  for (auto& p : c.weights[weight.data_ptr()])
    if (p.layout == layout && p.weight.lock().get() == weight.unsafeGetTensorImpl())
      return memory(layout, engine(), p.bytes.data_ptr());
  drop_expired(c);
  auto& list = c.weights[weight.data_ptr()];
  at::Tensor bytes = onednn::reorder_to(weight.contiguous(), layout, s);
  s.wait();
  list.push_back(
      {c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>(weight.getIntrusivePtr()), layout, bytes});
  return onednn::view(layout, bytes);
}

bool is_const_ints(torch::jit::Value* v, const std::vector<std::int64_t>& want) {
  const auto iv = torch::jit::toIValue(v);
  return iv && iv->isIntList() && iv->toIntVector() == want;
}

bool is_const_int(torch::jit::Value* v, std::int64_t want) {
  const auto iv = torch::jit::toIValue(v);
  return iv && iv->isInt() && iv->toInt() == want;
}

bool is_const_bool(torch::jit::Value* v, bool want) {
  const auto iv = torch::jit::toIValue(v);
  return iv && iv->isBool() && iv->toBool() == want;
}

/// The constant weight of a convolution Winograd can take, or an undefined tensor.
at::Tensor eligible_weight(torch::jit::Node* n) {
  static const auto conv2d = c10::Symbol::fromQualString("aten::conv2d");
  static const auto convolution = c10::Symbol::fromQualString("aten::_convolution");
  const bool plain = n->kind() == conv2d && n->inputs().size() == 7;
  const bool general = n->kind() == convolution && n->inputs().size() >= 9;
  if (!plain && !general) return {};
  const auto w = torch::jit::toIValue(n->input(1));
  if (!w || !w->isTensor()) return {};
  const at::Tensor weight = w->toTensor();
  const bool shape = weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 && weight.size(0) % 16 == 0 &&
                     weight.size(1) % 16 == 0 && weight.scalar_type() == at::kFloat && !weight.is_mkldnn();
  const bool geometry =
      is_const_ints(n->input(3), {1, 1}) && is_const_ints(n->input(4), {1, 1}) && is_const_ints(n->input(5), {1, 1}) &&
      (plain ? is_const_int(n->input(6), 1) : is_const_bool(n->input(6), false) && is_const_int(n->input(8), 1));
  return shape && geometry ? weight : at::Tensor();
}

}  // namespace

bool winograd_available() {
  static const bool available = [] {
    try {
      describe({1, 16, 8, 8}, {1, 16, 8, 8}, 16, true, true);
      return true;
    } catch (const dnnl::error&) {  // no AVX-512: oneDNN has no Winograd implementation here
      return false;
    }
  }();
  return available;
}

at::Tensor winograd_conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           bool relu) {
  TORCH_CHECK(input.dim() == 4 && input.scalar_type() == at::kFloat && input.device().is_cpu(),
              "winograd_conv2d: expected fp32 [N, C, H, W] on the CPU");
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == input.size(1) && weight.size(2) == 3 && weight.size(3) == 3,
              "winograd_conv2d: expected a [K, C, 3, 3] weight for ", input.size(1), " channels");
  const auto format = input.suggest_memory_format();
  const at::Tensor x = input.contiguous(format);
  const Dims src(x.sizes().begin(), x.sizes().end());
  const Dims dst{src[0], weight.size(0), src[2], src[3]};
  const bool has_bias = bias && bias->defined();
  at::Tensor y = at::empty(dst, x.options().memory_format(format));
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto key = std::make_tuple(src, weight.size(0), has_bias, relu);
  auto it = c.primitives.find(key);
  if (it == c.primitives.end()) {
    auto pd = describe(src, dst, weight.size(0), has_bias, relu);
    it = c.primitives.emplace(key, Cache::Primitive{pd, dnnl::convolution_forward(pd)}).first;
  }
  const auto& pd = it->second.pd;
  dnnl::stream s(engine());
  const at::Tensor xb = onednn::reorder_to(x, pd.src_desc(), s), yb = onednn::buffer(pd.dst_desc(), x);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, onednn::view(pd.src_desc(), xb)},
                                       {DNNL_ARG_WEIGHTS, packed_weight(c, weight, pd.weights_desc(), s)},
                                       {DNNL_ARG_DST, onednn::view(pd.dst_desc(), yb)}};
  at::Tensor b;
  if (has_bias) {
    b = bias->contiguous();
    args.emplace(DNNL_ARG_BIAS, memory(pd.bias_desc(), engine(), b.data_ptr()));
  }
  it->second.conv.execute(s, args);
  onednn::reorder_from(onednn::view(pd.dst_desc(), yb), y, s);
  s.wait();
  return y;
}

std::size_t use_winograd(torch::jit::Module& module) {
  static const auto op = c10::Symbol::fromQualString("trex::winograd_conv2d");
  static const auto relu = c10::Symbol::fromQualString("aten::relu");
  static const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
  auto graph = module.get_method("forward").graph();
  std::vector<torch::jit::Node*> convs;
  for (torch::jit::Node* n : graph->nodes())
    if (eligible_weight(n).defined()) convs.push_back(n);
  for (torch::jit::Node* n : convs) {
    torch::jit::WithInsertPoint guard(n);
    torch::jit::Value* out = n->output();
    torch::jit::Node* fused = nullptr;  // a ReLU that is the convolution's only use
    if (out->uses().size() == 1) {
      torch::jit::Node* user = out->uses()[0].user;
      if ((user->kind() == relu || user->kind() == relu_) && user->input(0) == out) fused = user;
    }
    torch::jit::Node* w = graph->create(op, {n->input(0), n->input(1), n->input(2), graph->insertConstant(!!fused)});
    w->insertBefore(n);
    w->output()->setType(out->type());
    if (fused) {
      fused->output()->replaceAllUsesWith(w->output());
      fused->destroy();
    }
    out->replaceAllUsesWith(w->output());
    n->destroy();
  }
  return convs.size();
}

TORCH_LIBRARY(trex, m) {
  m.def("winograd_conv2d(Tensor x, Tensor weight, Tensor? bias, bool relu) -> Tensor", &winograd_conv2d);
}

}  // namespace trex
