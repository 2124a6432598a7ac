// Winograd convolutions for training (model/winograd.h): oneDNN's Winograd
// forward-training, backward-data and backward-weights primitives behind one
// autograd function. Activations are in nChw16c (the layout oneDNN's Winograd
// takes) only inside this function, in scratch buffers it keeps and reuses:
// the output and the input gradient come back in the input's own memory
// format, and the weight gradient reorders the saved input again rather than
// keeping a blocked copy of every layer's input alive until backward.
#include <map>
#include <mutex>
#include <tuple>

#include <torch/csrc/autograd/custom_function.h>

#include "onednn.h"
#include "trex/model/winograd.h"

namespace trex {
namespace {

using dnnl::memory;
using onednn::Dims;
using onednn::engine;

/// The three primitives of one problem (input sizes, output channels, bias or not).
struct Primitives {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_weights::primitive_desc weights_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights weights;
};

Primitives make(const Dims& src, std::int64_t k, bool bias) {
  const auto f32 = memory::data_type::f32;
  const Dims dst{src[0], k, src[2], src[3]}, one{1, 1};
  const memory::desc s = onednn::blocked16(src), d = onednn::blocked16(dst),
                     w({k, src[1], 3, 3}, f32, memory::format_tag::any), b({k}, f32, memory::format_tag::x);
  const auto alg = dnnl::algorithm::convolution_winograd;
  const auto fwd_desc =
      bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, s, w, b, d, one, one, one)
           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, s, w, d, one, one, one);
  // The scratchpad is ours (kPad), one for all: oneDNN's own would be one per primitive, so per layer shape
  // and batch size, each as large as the transformed tiles.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::convolution_forward::primitive_desc fwd_pd(fwd_desc, attr, engine());
  dnnl::convolution_backward_data::primitive_desc data_pd(
      dnnl::convolution_backward_data::desc(alg, s, w, d, one, one, one), attr, engine(), fwd_pd);
  const auto weights_desc = bias ? dnnl::convolution_backward_weights::desc(alg, s, w, b, d, one, one, one)
                                 : dnnl::convolution_backward_weights::desc(alg, s, w, d, one, one, one);
  dnnl::convolution_backward_weights::primitive_desc weights_pd(weights_desc, attr, engine(), fwd_pd);
  return {fwd_pd,
          data_pd,
          weights_pd,
          dnnl::convolution_forward(fwd_pd),
          dnnl::convolution_backward_data(data_pd),
          dnnl::convolution_backward_weights(weights_pd)};
}

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

/// Built once per problem; callers hold mutex().
const Primitives& primitives(const Dims& src, std::int64_t k, bool bias) {
  static std::map<std::tuple<Dims, std::int64_t, bool>, Primitives> cache;
  auto key = std::make_tuple(src, k, bias);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make(src, k, bias)).first;
  return it->second;
}

Dims dims(const at::Tensor& t) { return Dims(t.sizes().begin(), t.sizes().end()); }

/// What a call holds in oneDNN's layouts; callers hold mutex().
enum Role { kX, kY, kW, kDY, kDX, kDW, kPad, kRoles };

/// Bytes for `role` in layout `d`: one buffer per role, grown and never freed, reused by every call.
at::Tensor scratch(Role role, const memory::desc& d) {
  static at::Tensor buffers[kRoles];
  return onednn::grown(buffers[role], d);
}

memory in(Role role, const at::Tensor& from, const memory::desc& d, dnnl::stream& s) {
  const at::Tensor bytes = scratch(role, d);
  onednn::reorder_into(from, d, bytes, s);
  return onednn::view(d, bytes);
}

memory out(Role role, const memory::desc& d) { return onednn::view(d, scratch(role, d)); }

class WinogradConv : public torch::autograd::Function<WinogradConv> {
 public:
  /// `bias_or_empty`: the bias, or an empty tensor for none.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const at::Tensor& bias_or_empty) {
    const at::Tensor bias = bias_or_empty.numel() > 0 ? bias_or_empty : at::Tensor();
    const auto format = input.suggest_memory_format();
    const at::Tensor x = input.contiguous(format);
    at::Tensor y = at::empty({x.size(0), weight.size(0), x.size(2), x.size(3)}, x.options().memory_format(format));
    std::lock_guard<std::mutex> lock(mutex());
    const Primitives& p = primitives(dims(x), weight.size(0), bias.defined());
    dnnl::stream s(engine());
    const memory yb = out(kY, p.fwd_pd.dst_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, in(kX, x, p.fwd_pd.src_desc(), s)},
                                         {DNNL_ARG_WEIGHTS, in(kW, weight, p.fwd_pd.weights_desc(), s)},
                                         {DNNL_ARG_DST, yb},
                                         {DNNL_ARG_SCRATCHPAD, out(kPad, p.fwd_pd.scratchpad_desc())}};
    const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
    if (b.defined()) args.emplace(DNNL_ARG_BIAS, onednn::view(p.fwd_pd.bias_desc(), b));
    p.fwd.execute(s, args);
    onednn::reorder_from(yb, y, s);
    s.wait();
    ctx->save_for_backward({x, weight});
    ctx->saved_data["channels_last"] = format == at::MemoryFormat::ChannelsLast;
    ctx->saved_data["bias"] = bias.defined();
    ctx->saved_data["grads"] =
        std::vector<bool>{input.requires_grad(), weight.requires_grad(), bias.defined() && bias.requires_grad()};
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1];
    const auto format =
        ctx->saved_data["channels_last"].toBool() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    const auto wanted = ctx->saved_data["grads"].toBoolList();
    const bool bias = ctx->saved_data["bias"].toBool();
    const at::Tensor dy = grads[0].contiguous(format);
    std::lock_guard<std::mutex> lock(mutex());
    const Primitives& p = primitives(dims(x), weight.size(0), bias);
    dnnl::stream s(engine());
    const memory dyb = in(kDY, dy, p.data_pd.diff_dst_desc(), s);
    at::Tensor dx, dw, db;
    if (wanted.get(0)) {
      const memory dxb = out(kDX, p.data_pd.diff_src_desc());
      p.data.execute(s, {{DNNL_ARG_DIFF_DST, dyb},
                         {DNNL_ARG_WEIGHTS, in(kW, weight, p.data_pd.weights_desc(), s)},
                         {DNNL_ARG_DIFF_SRC, dxb},
                         {DNNL_ARG_SCRATCHPAD, out(kPad, p.data_pd.scratchpad_desc())}});
      dx = at::empty_like(x);
      onednn::reorder_from(dxb, dx, s);
    }
    if (wanted.get(1) || wanted.get(2)) {
      const memory dwb = out(kDW, p.weights_pd.diff_weights_desc());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, in(kX, x, p.weights_pd.src_desc(), s)},
                                           {DNNL_ARG_DIFF_DST, dyb},
                                           {DNNL_ARG_DIFF_WEIGHTS, dwb},
                                           {DNNL_ARG_SCRATCHPAD, out(kPad, p.weights_pd.scratchpad_desc())}};
      if (bias) {
        db = at::empty({weight.size(0)}, dy.options());
        args.emplace(DNNL_ARG_DIFF_BIAS, onednn::view(p.weights_pd.diff_bias_desc(), db));
      }
      p.weights.execute(s, args);
      dw = at::empty_like(weight);  // the weight's own strides, as the optimizer keeps them
      onednn::reorder_from(dwb, dw, s);
    }
    s.wait();
    return {dx, wanted.get(1) ? dw : at::Tensor(), wanted.get(2) ? db : at::Tensor()};
  }
};

}  // namespace

// At 32 channels Winograd lost to LibTorch's own kernels in training (a 28 px ResNet, batch 128: its
// backward-weights was slower than the direct one's, and the reorders to and from nChw16c cost more than
// the forward and backward-data gained); from 64 channels on it won, by 1.2-1.9x at 7-56 px with the
// reorders (tools/bench/README.md).
bool winograd_fits(const torch::nn::Conv2dOptions& o) {
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  const auto all = [](const torch::ExpandingArray<2>& a, std::int64_t v) { return (*a)[0] == v && (*a)[1] == v; };
  return all(o.kernel_size(), 3) && all(o.stride(), 1) && padding && all(*padding, 1) && all(o.dilation(), 1) &&
         o.groups() == 1 && o.in_channels() % 16 == 0 && o.out_channels() % 16 == 0 && o.in_channels() >= 64 &&
         o.out_channels() >= 64 && c10::get_if<torch::enumtype::kZeros>(&o.padding_mode());
}

at::Tensor winograd_conv2d_train(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(input.dim() == 4 && input.scalar_type() == at::kFloat && input.device().is_cpu(),
              "winograd_conv2d_train: expected fp32 [N, C, H, W] on the CPU");
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == input.size(1) && weight.size(2) == 3 && weight.size(3) == 3,
              "winograd_conv2d_train: expected a [K, C, 3, 3] weight for ", input.size(1), " channels");
  // LibTorch 1.13's Function::apply cannot take an undefined tensor (it asks it for its device): no bias
  // travels as an empty one.
  return WinogradConv::apply(input, weight, bias.defined() ? bias : at::empty({0}, weight.options()));
}

}  // namespace trex
