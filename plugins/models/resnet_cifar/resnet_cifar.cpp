// The small-image ResNets of He et al. (2016, section 4.2): a 3x3 stem with
// no pooling, stages of BasicBlocks whose widths double while the resolution
// halves, global pooling and a linear classifier. Presets are the paper's
// ResNet-20/32/44/56 (widths 16/32/64, zero-padding shortcuts, "option A");
// widths, blocks and shortcuts are free for faster nets. Names follow
// torchvision's ResNet (conv1, bn1, layerN.M.{conv1,bn1,conv2,bn2,downsample},
// fc), so its cut points are stem, layer1 ... layerN, avgpool, fc.
#include <torch/nn/init.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/batch_norm.h"
#include "trex/plugin_kit/conv.h"
#include "trex/plugin_kit/cut.h"
#include "trex/plugin_kit/grad_format.h"
#include "trex/plugin_kit/torchvision.h"

namespace trex_resnet_cifar {
using namespace trex;
namespace nn = torch::nn;
using Ints = std::vector<std::int64_t>;

trex::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride) {
  return trex::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

struct BlockImpl : nn::Module {
  BlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride, bool projection) : out(out), stride(stride) {
    conv1 = register_module("conv1", conv(in, out, 3, stride));
    bn1 = register_module("bn1", trex::BatchNorm2d(out));
    conv2 = register_module("conv2", conv(out, out, 3, 1));
    bn2 = register_module("bn2", trex::BatchNorm2d(out));
    if (projection && (stride != 1 || in != out))
      downsample = register_module("downsample", nn::Sequential(conv(in, out, 1, stride), trex::BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& input) {
    const torch::Tensor x = keep_grad_format(input);  // its gradient is the sum of two branches'
    auto y = bn2(conv2(torch::relu(bn1(conv1(x)))));
    return torch::relu(y + shortcut(x));
  }
  /// Option B: a strided 1x1 conv + BN; option A: subsample and pad the new channels with zeros.
  torch::Tensor shortcut(const torch::Tensor& x) {
    if (downsample) return downsample->forward(x);
    torch::Tensor s = stride == 1 ? x : x.slice(2, 0, c10::nullopt, stride).slice(3, 0, c10::nullopt, stride);
    const std::int64_t extra = out - s.size(1);
    if (extra == 0) return s;
    return torch::constant_pad_nd(s, {0, 0, 0, 0, extra / 2, extra - extra / 2});
  }
  std::int64_t out, stride;
  trex::Conv2d conv1{nullptr}, conv2{nullptr};
  trex::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

struct Config {
  Ints widths, blocks;
  bool projection = false, zero_init_residual = false;
};

std::vector<std::string> stage_names(std::size_t stages) {
  std::vector<std::string> names{"stem"};
  for (std::size_t s = 1; s <= stages; ++s) names.push_back("layer" + std::to_string(s));
  names.insert(names.end(), {"avgpool", "fc"});
  return names;
}

struct NetImpl : nn::Module {
  NetImpl(const Config& c, std::int64_t in_channels, std::int64_t classes, const std::string& cut)
      : names(stage_names(c.widths.size())), plan(names, cut) {
    conv1 = register_module("conv1", conv(in_channels, c.widths[0], 3, 1));
    bn1 = register_module("bn1", trex::BatchNorm2d(c.widths[0]));
    std::int64_t in = c.widths[0];
    for (std::size_t s = 0; s < c.widths.size(); ++s) {
      const std::string name = "layer" + std::to_string(s + 1);
      if (!plan.needs(name)) {
        left_out.push_back(name);
        continue;
      }
      nn::Sequential layer;
      for (std::int64_t b = 0; b < c.blocks[s]; ++b, in = c.widths[s])
        layer->push_back(Block(in, c.widths[s], b == 0 && s > 0 ? 2 : 1, c.projection));
      layers.push_back(register_module(name, layer));
    }
    if (plan.needs("fc"))
      fc = register_module("fc", nn::Linear(in, classes));
    else
      left_out.push_back("fc");
    initialise(c.zero_init_residual);
  }
  /// torchvision's ResNet initialisation: Kaiming-normal (fan_out) convs, BN
  /// at 1/0; zero_init_residual starts each block as the identity (Goyal et al.).
  void initialise(bool zero_init_residual) {
    torch::NoGradGuard no_grad;
    for (auto& m : modules(false))
      if (auto* c = m->as<trex::Conv2d>()) nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
    if (!zero_init_residual) return;
    for (auto& layer : layers)
      for (auto& block : layer->children()) block->as<BlockImpl>()->bn2->weight.zero_();
  }
  std::vector<std::string> names;
  StagePlan plan;
  std::vector<std::string> left_out;
  trex::Conv2d conv1{nullptr};
  trex::BatchNorm2d bn1{nullptr};
  std::vector<nn::Sequential> layers;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(Net);

class ResNetCifar : public Model {
 public:
  ResNetCifar(const Config& c, std::int64_t in_channels, std::int64_t classes, const std::string& cut)
      : net_(c, in_channels, classes, cut) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "fc"); }
  std::vector<std::string> stages() const override { return net_->names; }
  std::vector<std::string> left_out() const override { return net_->left_out; }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    net_->plan.check(stage, "resnet_cifar");
    torch::Tensor x = torch::relu(net_->bn1(net_->conv1(input)));
    if (stage == "stem") return x;
    for (std::size_t s = 0; s < net_->layers.size(); ++s) {
      x = net_->layers[s]->forward(x);
      if (stage == "layer" + std::to_string(s + 1)) return x;
    }
    return pooled_classifier(x, stage, "resnet_cifar", net_->fc, 0.0, net_->is_training());
  }

 private:
  Net net_;
};

Preset paper_preset(std::int64_t depth) {
  const std::string name = "resnet" + std::to_string(depth);
  return {name,
          "He et al.'s CIFAR ResNet-" + std::to_string(depth) + " (16/32/64, option A shortcuts)",
          {{"depth", depth}, {"widths", Ints{16, 32, 64}}, {"blocks", Ints{}}, {"shortcut", std::string("pad")}}};
}

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(
        Kind::Model, "resnet_cifar", "1.0.0",
        "small-image ResNet (He et al. 2016): 3x3 stem, no pooling, BasicBlock stages; cut points layer1 ... layerN",
        {ParamSpec("depth", T::Int, "6n+2 layers: n blocks per stage (20, 32, 44, 56, 110); unused when blocks is set")
             .def(std::int64_t{20})
             .range(8, 1202),
         ParamSpec("widths", T::IntList, "channels of each stage (1 to 4 stages); the stem has the first")
             .def(Ints{16, 32, 64})
             .range(1, 4096),
         ParamSpec("blocks", T::IntList, "blocks of each stage, one per width; empty: (depth - 2) / 6 each")
             .def(Ints{})
             .range(1, 1000),
         ParamSpec("shortcut", T::String,
                   "where a block changes shape: pad (option A, zeros) or projection (1x1 conv + BN)")
             .def(std::string("projection"))
             .one_of({"pad", "projection"}),
         ParamSpec("zero_init_residual", T::Bool, "start each block's last BN at 0, so blocks begin as the identity")
             .def(false)});
    d.presets = {paper_preset(20), paper_preset(32), paper_preset(44), paper_preset(56)};
    d.model.input_channels = 3;
    d.model.input_height = d.model.input_width = 32;
    d.model.classifier = "fc";
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  Config c;
  c.widths = p.get<Ints>("widths");
  c.blocks = p.get<Ints>("blocks");
  const std::int64_t depth = p.get_int("depth");
  if (c.widths.empty() || c.widths.size() > 4)
    throw std::invalid_argument("resnet_cifar: widths needs 1 to 4 stages, got " + std::to_string(c.widths.size()));
  if (c.blocks.empty()) {
    if ((depth - 2) % 6 != 0)
      throw std::invalid_argument("resnet_cifar: depth must be 6n+2 (20, 32, 44, 56, 110), got " +
                                  std::to_string(depth) + "; or give blocks per stage");
    c.blocks.assign(c.widths.size(), (depth - 2) / 6);
  }
  if (c.blocks.size() != c.widths.size())
    throw std::invalid_argument("resnet_cifar: blocks has " + std::to_string(c.blocks.size()) +
                                " entries but widths has " + std::to_string(c.widths.size()) + "; give one per stage");
  TORCH_CHECK(ctx.channels > 0 && ctx.num_classes > 0, "resnet_cifar needs the dataset's channels and classes");
  c.projection = p.get_string("shortcut") == "projection";
  c.zero_init_residual = p.get_bool("zero_init_residual");
  return std::make_unique<ResNetCifar>(c, ctx.channels, ctx.num_classes, ctx.cut);
}

}  // namespace trex_resnet_cifar

TREX_PLUGIN(trex_resnet_cifar::descriptor, trex_resnet_cifar::create)
