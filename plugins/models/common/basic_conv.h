#pragma once
// torchvision's BasicConv2d (Inception v3, GoogLeNet): conv without bias,
// BatchNorm with eps 1e-3, ReLU; module names `conv` and `bn` as there.
#include <torch/nn/modules/batchnorm.h>
#include "trex/plugin_kit/conv.h"
#include "trex/plugin_kit/batch_norm.h"

namespace trex::models {

struct BasicConvImpl : torch::nn::Module {
  BasicConvImpl(std::int64_t in, std::int64_t out, std::vector<std::int64_t> k, std::int64_t stride = 1,
                std::vector<std::int64_t> pad = {0, 0}) {
    namespace nn = torch::nn;
    conv = register_module("conv", trex::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false)));
    bn = register_module("bn", trex::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(0.001)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }
  trex::Conv2d conv{nullptr};
  trex::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv);

/// A square k x k BasicConv2d.
inline BasicConv square(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1,
                        std::int64_t pad = 0) {
  return BasicConv(in, out, std::vector<std::int64_t>{k, k}, stride, std::vector<std::int64_t>{pad, pad});
}

}  // namespace trex::models
