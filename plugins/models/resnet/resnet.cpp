// ResNet 18/34/50, written to mirror torchvision 0.14 (conv1, bn1, layer1-4
// with BasicBlock / Bottleneck and `downsample`, fc), so torchvision state
// dicts load 1:1. Cut points: stem, layer1 ... layer4, avgpool, fc.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include "trex/plugin_kit/conv.h"
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/cut.h"
#include "trex/plugin_kit/grad_format.h"
#include "trex/plugin_kit/torchvision.h"
#include "trex/plugin_kit/batch_norm.h"

namespace trex_resnet {
using namespace trex;
namespace nn = torch::nn;

trex::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1, std::int64_t pad = 0) {
  return trex::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

/// A residual block; `bottleneck` picks torchvision's Bottleneck (1x1, 3x3, 1x1, expansion 4) over BasicBlock.
struct BlockImpl : nn::Module {
  BlockImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, bool bottleneck) : bottleneck(bottleneck) {
    const std::int64_t out = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      conv1 = register_module("conv1", conv(in, planes, 1));
      bn1 = register_module("bn1", trex::BatchNorm2d(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
      bn2 = register_module("bn2", trex::BatchNorm2d(planes));
      conv3 = register_module("conv3", conv(planes, out, 1));
      bn3 = register_module("bn3", trex::BatchNorm2d(out));
    } else {
      conv1 = register_module("conv1", conv(in, planes, 3, stride, 1));
      bn1 = register_module("bn1", trex::BatchNorm2d(planes));
      conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
      bn2 = register_module("bn2", trex::BatchNorm2d(planes));
    }
    if (stride != 1 || in != out)
      downsample = register_module("downsample", nn::Sequential(conv(in, out, 1, stride), trex::BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& input) {
    const torch::Tensor x = keep_grad_format(input);  // its gradient is the sum of two branches'
    auto y = torch::relu(bn1(conv1(x)));
    y = bottleneck ? torch::relu(bn2(conv2(y))) : bn2(conv2(y));
    if (bottleneck) y = bn3(conv3(y));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }
  bool bottleneck;
  trex::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  trex::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

const std::vector<std::string> kStages = {"stem", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"};

struct ResNetImpl : nn::Module {
  ResNetImpl(std::int64_t depth, std::int64_t in_channels, std::int64_t classes, bool replicate, const std::string& cut)
      : replicate(replicate), plan(kStages, cut) {
    const bool bottleneck = depth >= 50;
    const std::vector<int> counts = depth == 18 ? std::vector<int>{2, 2, 2, 2} : std::vector<int>{3, 4, 6, 3};
    conv1 = register_module("conv1", conv(replicate ? 3 : in_channels, 64, 7, 2, 3));
    bn1 = register_module("bn1", trex::BatchNorm2d(64));
    std::int64_t in = 64;
    for (int l = 0; l < 4; ++l) {
      if (!plan.needs("layer" + std::to_string(l + 1))) {  // past the cut: never built
        left_out.push_back("layer" + std::to_string(l + 1));
        continue;
      }
      nn::Sequential layer;
      const std::int64_t planes = 64 << l;
      for (int b = 0; b < counts[static_cast<std::size_t>(l)]; ++b) {
        layer->push_back(Block(in, planes, b == 0 && l > 0 ? 2 : 1, bottleneck));
        in = planes * (bottleneck ? 4 : 1);
      }
      layers.push_back(register_module("layer" + std::to_string(l + 1), layer));
    }
    if (plan.needs("fc"))
      fc = register_module("fc", nn::Linear(in, classes));
    else
      left_out.push_back("fc");
  }
  bool replicate;
  StagePlan plan;
  std::vector<std::string> left_out;
  trex::Conv2d conv1{nullptr};
  trex::BatchNorm2d bn1{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

class ResNetModel : public Model {
 public:
  ResNetModel(std::int64_t depth, std::int64_t in_channels, std::int64_t classes, bool replicate,
              const std::string& cut)
      : net_(depth, in_channels, classes, replicate, cut) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "fc"); }
  std::vector<std::string> stages() const override { return kStages; }
  std::vector<std::string> left_out() const override { return net_->left_out; }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    net_->plan.check(stage, "resnet");
    torch::Tensor x = replicate_to_rgb(input, net_->replicate);
    x = torch::max_pool2d(torch::relu(net_->bn1(net_->conv1(x))), 3, 2, 1);
    if (stage == "stem") return x;
    for (int l = 0; l < 4; ++l) {
      x = net_->layers[static_cast<std::size_t>(l)]->forward(x);
      if (stage == "layer" + std::to_string(l + 1)) return x;
    }
    return pooled_classifier(x, stage, "resnet", net_->fc, 0.0, net_->is_training());
  }

 private:
  ResNet net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(
        Kind::Model, "resnet", "1.0.0", "ResNet 18/34/50, torchvision layout; cut points layer1 ... layer4",
        {ParamSpec("depth", T::Int, "18, 34 or 50").def(std::int64_t{18}).range(18, 50), channel_mode_param()});
    d.presets = {{"resnet18", "ResNet-18", {{"depth", std::int64_t{18}}}},
                 {"resnet34", "ResNet-34", {{"depth", std::int64_t{34}}}},
                 {"resnet50", "ResNet-50", {{"depth", std::int64_t{50}}}}};
    d.model = imagenet_model_info("fc");
    for (auto& preset : d.presets)
      preset.parity = {preset.name,
                       {{"stem", "maxpool"},
                        {"layer1", "layer1"},
                        {"layer2", "layer2"},
                        {"layer3", "layer3"},
                        {"layer4", "layer4"},
                        {"avgpool", "avgpool"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  const auto depth = p.get_int("depth");
  if (depth != 18 && depth != 34 && depth != 50)
    throw std::invalid_argument("resnet depth must be 18, 34 or 50, got " + std::to_string(depth));
  check_channel_mode("resnet", p.get_string("channel_mode"), ctx.channels);
  const bool replicate = p.get_string("channel_mode") == "replicate";
  return std::make_unique<ResNetModel>(depth, ctx.channels, ctx.num_classes, replicate, ctx.cut);
}

}  // namespace trex_resnet

TREX_PLUGIN(trex_resnet::descriptor, trex_resnet::create)
