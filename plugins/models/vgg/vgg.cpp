// VGG 16/19, with or without batch norm, written to mirror torchvision 0.14
// (`features`, `avgpool`, `classifier`; same module paths, so torchvision
// state dicts load 1:1). Cut points carry Keras's names (block1_conv1 ...
// block5_pool, fc1, fc2) and torchvision's indices (features.N).
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include "trex/plugin_kit/conv.h"
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/dropout.h"
#include "trex/plugin_kit/cut.h"
#include "trex/plugin_kit/torchvision.h"
#include "trex/plugin_kit/batch_norm.h"

namespace trex_vgg {
using namespace trex;
namespace nn = torch::nn;

struct VggOptions {
  VggOptions(std::int64_t in_channels, std::int64_t classes) : in_channels_(in_channels), classes_(classes) {}
  /// channels of the input images
  TORCH_ARG(std::int64_t, in_channels);
  TORCH_ARG(std::int64_t, classes);
  /// 16 or 19 weight layers
  TORCH_ARG(std::int64_t, depth) = 16;
  /// batch norm after every conv (torchvision's vgg16_bn)
  TORCH_ARG(bool, batch_norm) = false;
  /// adapt: the first conv takes in_channels; replicate: it takes 3 and a 1-channel input is repeated
  TORCH_ARG(std::string, channel_mode) = "replicate";
  /// classifier dropout; default 0.5
  TORCH_ARG(double, dropout) = 0.5;
};

struct VggImpl : nn::Module {
  VggImpl(const VggOptions& o, const std::string& cut) : options(o) {
    const std::vector<std::vector<int>> blocks =
        o.depth() == 16
            ? std::vector<std::vector<int>>{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}
            : std::vector<std::vector<int>>{
                  {64, 64}, {128, 128}, {256, 256, 256, 256}, {512, 512, 512, 512}, {512, 512, 512, 512}};
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      for (std::size_t c = 0; c < blocks[b].size(); ++c)
        all_stages.push_back("block" + std::to_string(b + 1) + "_conv" + std::to_string(c + 1));
      all_stages.push_back("block" + std::to_string(b + 1) + "_pool");
    }
    all_stages.insert(all_stages.end(), {"avgpool", "flatten", "fc1", "fc2", "classifier"});
    plan = StagePlan(all_stages, cut);
    build_features(blocks);
    if (plan.needs("avgpool"))
      avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({7, 7})));
    if (!plan.needs("fc1")) {  // the classifier holds 124 M of VGG16's 138 M parameters
      left_out.push_back("classifier");
      return;
    }
    classifier =
        register_module("classifier", nn::Sequential(nn::Linear(512 * 7 * 7, 4096), nn::ReLU(nn::ReLUOptions(true)),
                                                     trex::Dropout(options.dropout()), nn::Linear(4096, 4096),
                                                     nn::ReLU(nn::ReLUOptions(true)), trex::Dropout(options.dropout()),
                                                     nn::Linear(4096, options.classes())));
  }

  // torchvision's indices stay: a stage past the cut leaves its slots out (features.N of a weights file).
  void build_features(const std::vector<std::vector<int>>& blocks) {
    features = nn::Sequential();
    std::int64_t in = options.channel_mode() == "adapt" ? options.in_channels() : 3, slot = 0;
    const auto add = [&](const std::string& stage, std::vector<nn::AnyModule> modules) {
      const bool build = plan.needs(stage);
      for (auto& m : modules) {
        if (build)
          features->push_back(std::move(m));
        else
          left_out.push_back("features." + std::to_string(slot));
        ++slot;
      }
      if (build) stages.push_back({stage, static_cast<std::int64_t>(features->size()) - 1});
    };
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      for (std::size_t c = 0; c < blocks[b].size(); ++c) {
        std::vector<nn::AnyModule> conv{nn::AnyModule(trex::Conv2d(nn::Conv2dOptions(in, blocks[b][c], 3).padding(1)))};
        if (options.batch_norm()) conv.emplace_back(trex::BatchNorm2d(blocks[b][c]));
        conv.emplace_back(nn::ReLU(nn::ReLUOptions(true)));
        add("block" + std::to_string(b + 1) + "_conv" + std::to_string(c + 1), std::move(conv));
        in = blocks[b][c];
      }
      add("block" + std::to_string(b + 1) + "_pool", {nn::AnyModule(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)))});
    }
    register_module("features", features);
  }

  VggOptions options;
  nn::Sequential features{nullptr}, classifier{nullptr};
  nn::AdaptiveAvgPool2d avgpool{nullptr};
  FeatureStages stages;  ///< Keras names, each with the features index it ends at (those built)
  std::vector<std::string> all_stages;
  StagePlan plan{{}, ""};
  std::vector<std::string> left_out;  ///< module paths past the cut
};
TORCH_MODULE(Vgg);

class VggModel : public Model {
 public:
  VggModel(const VggOptions& o, const std::string& cut) : net_(o, cut) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "classifier"); }
  std::vector<std::string> stages() const override { return net_->all_stages; }
  std::vector<std::string> left_out() const override { return net_->left_out; }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    net_->plan.check(stage, "vgg");
    torch::Tensor x = replicate_to_rgb(input, net_->options.channel_mode() == "replicate");
    if (forward_features_until(*net_->features, x, stage, net_->stages)) return x;
    if (!net_->avgpool) throw std::runtime_error("vgg was built up to '" + net_->plan.cut() + "'; no stage " + stage);
    x = net_->avgpool(x);
    if (stage == "avgpool") return x;
    x = x.flatten(1);
    if (stage == "flatten") return x;
    std::size_t i = 0;
    for (auto& m : *net_->classifier) {
      x = m.forward(x);
      if ((stage == "fc1" && i == 1) || (stage == "fc2" && i == 4)) return x;
      ++i;
    }
    TORCH_CHECK(stage == "classifier", "vgg has no stage '", stage, "'");
    return x;
  }

 private:
  Vgg net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(
        Kind::Model, "vgg", "1.0.0", "VGG 16/19 (+BN), torchvision layout; Keras cut names block1_pool ... block5_pool",
        {ParamSpec("depth", T::Int, "weight layers: 16 or 19").def(std::int64_t{16}).range(16, 19),
         ParamSpec("batch_norm", T::Bool, "batch norm after every conv").def(false), channel_mode_param(),
         ParamSpec("dropout", T::Float, "classifier dropout").def(0.5).range(0, 0.99)});
    d.presets = {{"vgg16", "VGG-16", {{"depth", std::int64_t{16}}, {"batch_norm", false}}},
                 {"vgg19", "VGG-19", {{"depth", std::int64_t{19}}, {"batch_norm", false}}},
                 {"vgg16_bn", "VGG-16 with batch norm", {{"depth", std::int64_t{16}}, {"batch_norm", true}}},
                 {"vgg19_bn", "VGG-19 with batch norm", {{"depth", std::int64_t{19}}, {"batch_norm", true}}}};
    d.model = imagenet_model_info("classifier");
    d.presets[0].parity = {"vgg16",
                           {{"block1_pool", "features.4"},
                            {"block2_conv2", "features.8"},
                            {"features.13", "features.13"},
                            {"block3_pool", "features.16"},
                            {"block5_pool", "features.30"},
                            {"avgpool", "avgpool"},
                            {"fc1", "classifier.1"},
                            {"fc2", "classifier.4"}}};
    d.presets[1].parity = {"vgg19",
                           {{"block1_pool", "features.4"},
                            {"block4_pool", "features.27"},
                            {"block5_conv4", "features.35"},
                            {"block5_pool", "features.36"},
                            {"fc1", "classifier.1"}}};
    d.presets[2].parity = {"vgg16_bn",
                           {{"block1_pool", "features.6"},
                            {"block2_conv2", "features.12"},
                            {"block3_pool", "features.23"},
                            {"block5_pool", "features.43"},
                            {"avgpool", "avgpool"},
                            {"fc2", "classifier.4"}}};
    d.presets[3].parity = {"vgg19_bn", {{"block5_pool", "features.52"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  const auto depth = p.get_int("depth");
  if (depth != 16 && depth != 19)
    throw std::invalid_argument("vgg depth must be 16 or 19, got " + std::to_string(depth));
  if (ctx.height < 32 || ctx.width < 32)
    throw std::invalid_argument("vgg needs inputs of at least 32x32 (five 2x2 pools), got " +
                                std::to_string(ctx.height) + "x" + std::to_string(ctx.width) + "; add a resize");
  VggOptions o(ctx.channels, ctx.num_classes);
  o.depth(depth)
      .batch_norm(p.get_bool("batch_norm"))
      .channel_mode(p.get_string("channel_mode"))
      .dropout(p.get_float("dropout"));
  check_channel_mode("vgg", o.channel_mode(), ctx.channels);
  return std::make_unique<VggModel>(o, ctx.cut);
}

}  // namespace trex_vgg

TREX_PLUGIN(trex_vgg::descriptor, trex_vgg::create)
