// GoogLeNet (Inception v1), written to mirror torchvision 0.14 (BasicConv2d =
// conv without bias + BN(eps 1e-3) + ReLU; inception3a ... inception5b with
// branch1 ... branch4; its 3x3 "5x5" branch as torchvision has it), so its
// state dicts load 1:1. The auxiliary classifiers only train the original
// network: left out, their aux1.* / aux2.* keys skipped on load.
// Cut points: maxpool1 ... maxpool4, inception3a ... inception5b, avgpool.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "../common/basic_conv.h"
#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/torchvision.h"

namespace trex_googlenet {
using namespace trex;
namespace nn = torch::nn;
using torch::Tensor;

using models::BasicConv;
using models::square;

/// torchvision's branchN: a Sequential of BasicConv2d (branch4 starts with a max pool, index 0, no weights).
struct BranchImpl : nn::Module {
  BranchImpl(std::vector<BasicConv> convs, bool pool_first) : pool_first(pool_first) {
    for (std::size_t i = 0; i < convs.size(); ++i)
      this->convs.push_back(register_module(std::to_string(i + (pool_first ? 1 : 0)), convs[i]));
  }
  Tensor forward(Tensor x) {
    if (pool_first) x = torch::max_pool2d(x, 3, 1, 1, 1, true);
    for (auto& c : convs) x = c(x);
    return x;
  }
  std::vector<BasicConv> convs;
  bool pool_first;
};
TORCH_MODULE(Branch);

struct InceptionImpl : nn::Module {
  InceptionImpl(std::int64_t in, std::int64_t c1, std::int64_t r3, std::int64_t c3, std::int64_t r5, std::int64_t c5,
                std::int64_t pool) {
    b1 = register_module("branch1", square(in, c1, 1));
    b2 = register_module("branch2", Branch(std::vector<BasicConv>{square(in, r3, 1), square(r3, c3, 3, 1, 1)}, false));
    b3 = register_module("branch3", Branch(std::vector<BasicConv>{square(in, r5, 1), square(r5, c5, 3, 1, 1)}, false));
    b4 = register_module("branch4", Branch(std::vector<BasicConv>{square(in, pool, 1)}, true));
  }
  Tensor forward(const Tensor& x) { return torch::cat({b1(x), b2(x), b3(x), b4(x)}, 1); }
  BasicConv b1{nullptr};
  Branch b2{nullptr}, b3{nullptr}, b4{nullptr};
};
TORCH_MODULE(Inception);

const std::vector<std::string> kBlocks = {"inception3a", "inception3b", "inception4a", "inception4b", "inception4c",
                                          "inception4d", "inception4e", "inception5a", "inception5b"};

struct GoogLeNetImpl : nn::Module {
  GoogLeNetImpl(std::int64_t in_channels, std::int64_t classes, bool replicate) : replicate(replicate) {
    conv1 = register_module("conv1", square(replicate ? 3 : in_channels, 64, 7, 2, 3));
    conv2 = register_module("conv2", square(64, 64, 1));
    conv3 = register_module("conv3", square(64, 192, 3, 1, 1));
    const std::int64_t cfg[9][7] = {
        {192, 64, 96, 128, 16, 32, 32},     {256, 128, 128, 192, 32, 96, 64},   {480, 192, 96, 208, 16, 48, 64},
        {512, 160, 112, 224, 24, 64, 64},   {512, 128, 128, 256, 24, 64, 64},   {512, 112, 144, 288, 32, 64, 64},
        {528, 256, 160, 320, 32, 128, 128}, {832, 256, 160, 320, 32, 128, 128}, {832, 384, 192, 384, 48, 128, 128}};
    for (std::size_t i = 0; i < kBlocks.size(); ++i) {
      const auto* c = cfg[i];
      blocks.push_back(register_module(kBlocks[i], Inception(c[0], c[1], c[2], c[3], c[4], c[5], c[6])));
    }
    fc = register_module("fc", nn::Linear(1024, classes));
  }
  bool replicate;
  BasicConv conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  std::vector<Inception> blocks;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(GoogLeNet);

class GoogLeNetModel : public Model {
 public:
  GoogLeNetModel(std::int64_t in_channels, std::int64_t classes, bool replicate)
      : net_(in_channels, classes, replicate) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "fc"); }
  std::vector<std::string> stages() const override {
    std::vector<std::string> s{"maxpool1", "maxpool2"};
    s.insert(s.end(), kBlocks.begin(), kBlocks.begin() + 2);
    s.push_back("maxpool3");
    s.insert(s.end(), kBlocks.begin() + 2, kBlocks.begin() + 7);
    s.push_back("maxpool4");
    s.insert(s.end(), kBlocks.begin() + 7, kBlocks.end());
    s.insert(s.end(), {"avgpool", "fc"});
    return s;
  }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    Tensor x = replicate_to_rgb(input, net_->replicate);
    auto pool = [](const Tensor& t, std::int64_t k, std::int64_t s) { return torch::max_pool2d(t, k, s, 0, 1, true); };
    x = pool(net_->conv1(x), 3, 2);
    if (stage == "maxpool1") return x;
    x = pool(net_->conv3(net_->conv2(x)), 3, 2);
    if (stage == "maxpool2") return x;
    for (std::size_t i = 0; i < kBlocks.size(); ++i) {
      x = net_->blocks[i](x);
      if (stage == kBlocks[i]) return x;
      if (i == 1 || i == 6) {
        x = pool(x, i == 1 ? 3 : 2, 2);
        if (stage == (i == 1 ? "maxpool3" : "maxpool4")) return x;
      }
    }
    return pooled_classifier(x, stage, "googlenet", net_->fc, 0.2, net_->is_training());
  }

 private:
  GoogLeNet net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(
        Kind::Model, "googlenet", "1.0.0",
        "GoogLeNet / Inception v1, torchvision layout; cut points inception3a ... inception5b", {channel_mode_param()});
    d.model = imagenet_model_info("fc");
    d.model.parity = {"googlenet",
                      {{"maxpool2", "maxpool2"},
                       {"inception3b", "inception3b"},
                       {"maxpool3", "maxpool3"},
                       {"inception4e", "inception4e"},
                       {"maxpool4", "maxpool4"},
                       {"inception5b", "inception5b"},
                       {"avgpool", "avgpool"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  check_channel_mode("googlenet", p.get_string("channel_mode"), ctx.channels);
  return std::make_unique<GoogLeNetModel>(ctx.channels, ctx.num_classes, p.get_string("channel_mode") == "replicate");
}

}  // namespace trex_googlenet

TREX_PLUGIN(trex_googlenet::descriptor, trex_googlenet::create)
