#pragma once
// A 2-D convolution for model plugins whose kernel the host may swap: with
// torch's parameter names, initialisation and conv2d by default (weight
// import, torchvision parity and seeded runs are unchanged), it lets the host
// run eligible convolutions by a faster algorithm of its own, such as
// Winograd for 3x3 convolutions in fp32 training on AVX-512 CPUs
// (model/winograd.h). LibTorch's C++ modules have no forward hooks, and
// torch::nn::Conv2dImpl::forward is not virtual, hence a module of our own
// (as plugin_kit/batch_norm.h for the same reason).
#include <cmath>
#include <functional>
#include <ostream>

#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/functional/conv.h>
#include <torch/nn/init.h>
#include <torch/nn/options/conv.h>

namespace trex {

/// conv2d(input, weight, bias) with the layer's own geometry, by another algorithm.
using ConvKernel =
    std::function<torch::Tensor(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias)>;

/// What the host looks for: a convolution whose kernel it may replace.
struct SwappableConv {
  virtual ~SwappableConv() = default;
  virtual const torch::nn::Conv2dOptions& conv_options() const = 0;
  ConvKernel kernel;  ///< set by the host for fp32 inputs; empty: torch::conv2d
};

/// torch::nn::Conv2d's behaviour with zero padding (the only padding mode the plugins use).
class Conv2dImpl : public torch::nn::Cloneable<Conv2dImpl>, public SwappableConv {
 public:
  explicit Conv2dImpl(const torch::nn::Conv2dOptions& options) : options(options) { reset(); }

  /// torch::nn::ConvNdImpl::reset and reset_parameters, draw for draw.
  void reset() override {
    TORCH_CHECK(c10::get_if<torch::enumtype::kZeros>(&options.padding_mode()),
                "trex::Conv2d: only zero padding (use torch::nn::Conv2d for other padding modes)");
    TORCH_CHECK(options.in_channels() % options.groups() == 0 && options.out_channels() % options.groups() == 0,
                "trex::Conv2d: channels must be divisible by groups");
    const auto k = *options.kernel_size();
    weight = register_parameter(
        "weight", torch::empty({options.out_channels(), options.in_channels() / options.groups(), k[0], k[1]}));
    bias = options.bias() ? register_parameter("bias", torch::empty({options.out_channels()}))
                          : register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (bias.defined()) {
      const auto fan_in = std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(weight));
      const double bound = 1 / std::sqrt(static_cast<double>(fan_in));
      torch::nn::init::uniform_(bias, -bound, bound);
    }
  }

  /// The host's kernel for fp32 CPU inputs outside autocast; torch's conv2d
  /// otherwise, and always while tracing (an inference graph records aten::conv2d
  /// and makes its own choices, model/graph_variants.h).
  torch::Tensor forward(const torch::Tensor& input) {
    if (kernel && input.device().is_cpu() && input.scalar_type() == torch::kFloat &&
        weight.scalar_type() == torch::kFloat && !at::autocast::is_cpu_enabled() && !torch::jit::tracer::isTracing())
      return kernel(input, weight, bias);
    return torch::nn::functional::detail::conv2d(input, weight, bias, options.stride(), options.padding(),
                                                 options.dilation(), options.groups());
  }

  const torch::nn::Conv2dOptions& conv_options() const override { return options; }

  void pretty_print(std::ostream& stream) const override {
    stream << "trex::Conv2d(" << options.in_channels() << ", " << options.out_channels()
           << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride();
    if (const auto* p = c10::get_if<torch::ExpandingArray<2>>(&options.padding())) stream << ", padding=" << *p;
    if (!options.bias()) stream << ", bias=false";
    stream << ")";
  }

  torch::nn::Conv2dOptions options;
  torch::Tensor weight, bias;
};

TORCH_MODULE(Conv2d);

}  // namespace trex
