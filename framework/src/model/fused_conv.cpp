// trex::fused_conv2d (model/fused_conv.h): a oneDNN primitive per problem,
// each weight packed to the primitive's layout once.
#include "trex/model/fused_conv.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/library.h>

#include "onednn.h"
#include "trex/model/winograd.h"

namespace trex {
namespace {

using dnnl::memory;
using onednn::Dims;
using onednn::engine;

/// Images per Winograd call. Its scratch (the transformed tiles and the
/// blocked copies in and out) then holds 16 images, not the whole batch: less
/// memory touched for the first time, and more of it in cache (s/batch, batch
/// 64: VGG16 in bf16 first two batches 7.0 + 6.5 -> 3.5 + 2.6, then 2.33 ->
/// 2.11; fp32 ResNet-50 2.54 + 1.63 -> 2.39 + 1.52, then 1.44 -> 1.40; 8
/// images: VGG16 2.68).
constexpr std::int64_t kWinogradImages = 16;

/// The images a Winograd primitive is made for, to run a part of `n`: a
/// whole part's worth, the rest zeros, where that at most doubles the work.
/// oneDNN's Winograd weight layout depends on the images, so each part size
/// packed every weight again (VGG16 in bf16, the 28-image last batch of an
/// epoch: 1.5 s against 0.9 s for its share of a 64-image one).
std::int64_t winograd_images(std::int64_t n) { return 2 * n >= kWinogradImages ? kWinogradImages : n; }

/// One convolution as oneDNN is asked for it; the primitive cache's key.
struct Problem {
  Dims src, weight, stride, padding, dilation;
  memory::data_type type;
  bool channels_last, bias, winograd, residual, relu;

  auto tie() const {
    return std::tie(src, weight, stride, padding, dilation, type, channels_last, bias, winograd, residual, relu);
  }
  bool operator<(const Problem& o) const { return tie() < o.tie(); }

  Dims dst() const {
    Dims d{src[0], weight[0], 0, 0};
    for (int i = 0; i < 2; ++i)
      d[2 + i] = (src[2 + i] + 2 * padding[i] - dilation[i] * (weight[2 + i] - 1) - 1) / stride[i] + 1;
    return d;
  }
};

memory::desc activation(const Problem& p, const Dims& dims) {
  if (p.winograd) return onednn::blocked16(dims);
  return memory::desc(dims, p.type, p.channels_last ? memory::format_tag::nhwc : memory::format_tag::nchw);
}

/// The primitive for `p`; none where oneDNN has no implementation for it.
std::optional<dnnl::convolution_forward::primitive_desc> describe(const Problem& p) {
  const Dims dst = p.dst(), one_based_dilation{p.dilation[0] - 1, p.dilation[1] - 1};
  Dims right(2);  // LibTorch pads both sides alike; oneDNN wants the right side that gives `dst`
  for (int i = 0; i < 2; ++i)
    right[i] = (dst[2 + i] - 1) * p.stride[i] + p.dilation[i] * (p.weight[2 + i] - 1) + 1 - p.src[2 + i] - p.padding[i];
  const memory::desc s = activation(p, p.src), d = activation(p, dst), w(p.weight, p.type, memory::format_tag::any),
                     b({p.weight[0]}, memory::data_type::f32, memory::format_tag::x);
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = p.winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  dnnl::post_ops ops;
  // Winograd's kernels take a sum (into the destination, which then holds the
  // residual); the direct ones also read the residual as a second source.
  if (p.residual && p.winograd) ops.append_sum(1.f);
  if (p.residual && !p.winograd) ops.append_binary(dnnl::algorithm::binary_add, d);
  if (p.relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // the calling thread's (scratch())
  try {
    const auto desc =
        p.bias ? dnnl::convolution_forward::desc(prop, alg, s, w, b, d, p.stride, one_based_dilation, p.padding, right)
               : dnnl::convolution_forward::desc(prop, alg, s, w, d, p.stride, one_based_dilation, p.padding, right);
    return dnnl::convolution_forward::primitive_desc(desc, attr, engine());
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

/// A primitive per problem, and each weight reordered to its primitive's
/// layout once. An entry watches its weight without keeping it: when the
/// graph that holds the weight goes, the packed copy goes with the next
/// lookup, and a new tensor at the same address is not mistaken for the old one.
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
  std::map<Problem, std::optional<Primitive>> primitives;
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

/// Under c.mutex.
at::Tensor packed_weight(Cache& c, const at::Tensor& weight, const memory::desc& layout) {
  for (auto& p : c.weights[weight.data_ptr()])
    if (p.layout == layout && p.weight.lock().get() == weight.unsafeGetTensorImpl()) return p.bytes;
  drop_expired(c);
  dnnl::stream s(engine());
  // From NCHW strides: oneDNN reorders into its Winograd layout from plain
  // layouts only (a channels-last weight: "could not create a primitive"),
  // and from the layout's own element type (a bf16 graph's Winograd layers).
  const auto type = layout.data_type() == memory::data_type::bf16 ? at::kBFloat16 : at::kFloat;
  at::Tensor bytes = onednn::reorder_to(weight.to(type).contiguous(), layout, s);
  s.wait();
  c.weights[weight.data_ptr()].push_back(
      {c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>(weight.getIntrusivePtr()), layout, bytes});
  return bytes;
}

/// The primitive for `p` and `weight` packed for it, looked up (or made) under
/// the cache's lock; none where oneDNN has no implementation.
std::optional<std::pair<Cache::Primitive, at::Tensor>> prepare(const Problem& p, const at::Tensor& weight) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.primitives.find(p);
  if (it == c.primitives.end()) {
    std::optional<Cache::Primitive> made;
    if (auto pd = describe(p)) made = Cache::Primitive{*pd, dnnl::convolution_forward(*pd)};
    it = c.primitives.emplace(p, made).first;
  }
  if (!it->second) return std::nullopt;
  return std::make_pair(*it->second, packed_weight(c, weight, it->second->pd.weights_desc()));
}

/// What a call holds in oneDNN's layouts, per calling thread (so that calls
/// on several threads need no lock), grown and never freed.
enum Role { kSrc, kDst, kPad, kRoles };

dnnl::memory scratch(Role role, const memory::desc& d) {
  thread_local at::Tensor buffers[kRoles];
  return onednn::view(d, onednn::grown(buffers[role], d));
}

/// `v` as two values, each at least `least`: the op is callable from any
/// TorchScript, and a stride of 0 would divide by zero in Problem::dst().
std::vector<std::int64_t> pair(const std::vector<std::int64_t>& v, const char* what, std::int64_t least) {
  TORCH_CHECK(v.size() == 1 || v.size() == 2, "fused_conv2d: expected 1 or 2 values for ", what);
  TORCH_CHECK(*std::min_element(v.begin(), v.end()) >= least, "fused_conv2d: ", what, " must be at least ", least);
  return v.size() == 2 ? v : std::vector<std::int64_t>{v[0], v[0]};
}

/// The same computation by LibTorch's ops: where oneDNN has no primitive.
at::Tensor unfused(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                   const Problem& p, const at::Tensor& residual) {
  at::Tensor y =
      at::conv2d(x, weight.to(x.scalar_type()), bias ? *bias : at::Tensor(), p.stride, p.padding, p.dilation);
  if (residual.defined()) y.add_(residual);
  return p.relu ? y.relu_() : y;
}

/// The first t.size(0) images of the blocked buffer `m` (which may hold more), in t's sizes.
memory first_images(const memory& m, const at::Tensor& t) {
  return memory(onednn::blocked16(Dims(t.sizes().begin(), t.sizes().end())), engine(), m.get_data_handle());
}

/// `primitive` on x (and the fp32 bias `b`, the residual `r` where defined)
/// into y. A Winograd primitive may be made for more images than x has: the
/// rest of its input is zeros, and of its output is not read.
void execute(const Cache::Primitive& primitive, bool winograd, const at::Tensor& packed, const at::Tensor& x,
             const at::Tensor& b, const at::Tensor& r, at::Tensor& y) {
  const auto& pd = primitive.pd;
  dnnl::stream s(engine());
  std::unordered_map<int, memory> args{{DNNL_ARG_WEIGHTS, onednn::view(pd.weights_desc(), packed)},
                                       {DNNL_ARG_SCRATCHPAD, scratch(kPad, pd.scratchpad_desc())}};
  if (b.defined()) args.emplace(DNNL_ARG_BIAS, onednn::view(pd.bias_desc(), b));
  if (winograd) {  // in and out of oneDNN's blocked layout; the residual first into the output it is added to
    const memory src = scratch(kSrc, pd.src_desc()), dst = scratch(kDst, pd.dst_desc());
    args.emplace(DNNL_ARG_SRC, src);
    args.emplace(DNNL_ARG_DST, dst);
    const memory in = first_images(src, x);
    if (const std::size_t used = in.get_desc().get_size(), all = pd.src_desc().get_size(); used < all)
      std::memset(static_cast<char*>(src.get_data_handle()) + used, 0, all - used);
    onednn::reorder_into(x, in, s);
    if (r.defined()) onednn::reorder_into(r, first_images(dst, r), s);
  } else {
    args.emplace(DNNL_ARG_SRC, onednn::view(pd.src_desc(), x));
    args.emplace(DNNL_ARG_DST, onednn::view(pd.dst_desc(), y));
    if (r.defined()) args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, onednn::view(pd.dst_desc(), r));
  }
  primitive.conv.execute(s, args);
  if (winograd) onednn::reorder_from(first_images(args.at(DNNL_ARG_DST), y), y, s);
  s.wait();
}

}  // namespace

bool winograd_pays_in_bf16(const std::vector<std::int64_t>& x, const std::vector<std::int64_t>& weight) {
  // By hand, batch 64, against oneDNN's bf16 direct kernel on channels-last:
  // 256 channels at 56 px 1.22x, 512 at 28 1.41x; 512 at 14 1.12x, 256 at 14
  // and 512 at 7 slower. In VGG16's bf16 graph (s/batch, batch 64): 256+
  // channels at 28+ px 2.18, at 14+ px 2.21, 128+ channels at 28+ px 2.30,
  // none 2.55 (tools/bench/graph_variants.cpp).
  return x.size() == 4 && weight.size() == 4 && std::min(x[1], weight[0]) >= 256 && std::min(x[2], x[3]) >= 28;
}

bool winograd_available() {
  static const bool available = [] {
    const Problem p{{1, 16, 8, 8}, {16, 16, 3, 3}, {1, 1}, {1, 1}, {1, 1}, memory::data_type::f32,
                    true,          true,           true,   false,  true};
    return describe(p).has_value();  // none without AVX-512: oneDNN has no Winograd implementation there
  }();
  return available;
}

at::Tensor fused_conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                        const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& padding,
                        const std::vector<std::int64_t>& dilation, bool winograd,
                        const c10::optional<at::Tensor>& residual, bool relu) {
  const auto type = input.scalar_type();
  TORCH_CHECK(input.dim() == 4 && input.device().is_cpu() && (type == at::kFloat || type == at::kBFloat16),
              "fused_conv2d: expected fp32 or bf16 [N, C, H, W] on the CPU");
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == input.size(1) && weight.scalar_type() == type,
              "fused_conv2d: expected an ungrouped [K, ", input.size(1), ", kH, kW] weight of the input's type");
  const auto format = input.suggest_memory_format();
  const at::Tensor x = input.contiguous(format);
  const Dims src(x.sizes().begin(), x.sizes().end()), w(weight.sizes().begin(), weight.sizes().end());
  const bool wino = winograd && (type == at::kFloat || winograd_pays_in_bf16(src, w));
  const Problem p{src,
                  w,
                  pair(stride, "stride", 1),
                  pair(padding, "padding", 0),
                  pair(dilation, "dilation", 1),
                  wino ? memory::data_type::f32 : onednn::data_type(x),
                  format == at::MemoryFormat::ChannelsLast,
                  bias && bias->defined(),
                  wino,
                  residual && residual->defined(),
                  relu};
  const Dims dst = p.dst();
  at::Tensor r;
  if (p.residual) {
    r = residual->contiguous(format);
    TORCH_CHECK(r.sizes() == at::IntArrayRef(dst) && r.scalar_type() == type,
                "fused_conv2d: the residual must have the output's sizes and type");
  }
  const bool empty = x.numel() == 0 || *std::min_element(dst.begin(), dst.end()) <= 0;
  const std::int64_t images = x.size(0), step = p.winograd ? kWinogradImages : images;
  const auto made_for = [&](std::int64_t n) { return p.winograd ? winograd_images(n) : n; };
  Problem part = p;
  part.src[0] = made_for(std::min(step, images));
  auto prepared = empty ? std::nullopt : prepare(part, weight);
  if (!prepared) return unfused(x, weight, bias, p, r);  // LibTorch's result, or its error
  at::Tensor y = at::empty(dst, x.options().memory_format(format));
  const at::Tensor b = p.bias ? bias->to(at::kFloat).contiguous() : at::Tensor();
  for (std::int64_t i = 0; i < images; i += step) {
    const std::int64_t n = std::min(step, images - i);
    if (made_for(n) != part.src[0]) {  // the last, smaller part
      part.src[0] = made_for(n);
      prepared = prepare(part, weight);
      TORCH_CHECK(prepared, "fused_conv2d: oneDNN has no primitive for ", n, " images of a problem it takes ", step,
                  " of");
    }
    at::Tensor out = y.narrow(0, i, n);
    execute(prepared->first, p.winograd, prepared->second, x.narrow(0, i, n), b,
            p.residual ? r.narrow(0, i, n) : at::Tensor(), out);
  }
  return y;
}

TORCH_LIBRARY(trex, m) {
  m.def(
      "fused_conv2d(Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, "
      "bool winograd, Tensor? residual, bool relu) -> Tensor",
      &fused_conv2d);
}

}  // namespace trex
