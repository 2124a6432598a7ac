// AlexNet, written to mirror torchvision 0.14 (`features`, `avgpool`,
// `classifier` with the same indices), so its state dicts load 1:1.
// Cut points: conv1 ... conv5 and pool1, pool2, pool5 (= features.12),
// torchvision's features.N, avgpool, fc6, fc7.
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include "trex/plugin_kit/conv.h"
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/dropout.h"
#include "trex/plugin_kit/cut.h"
#include "trex/plugin_kit/torchvision.h"

namespace trex_alexnet {
using namespace trex;
namespace nn = torch::nn;

// Named cut points and the features index each ends at (after its ReLU / pool).
const FeatureStages kStages = {{"conv1", 1}, {"pool1", 2}, {"conv2", 4},  {"pool2", 5},
                               {"conv3", 7}, {"conv4", 9}, {"conv5", 11}, {"pool5", 12}};

struct AlexNetImpl : nn::Module {
  AlexNetImpl(std::int64_t in_channels, std::int64_t classes, bool replicate, const std::string& cut)
      : replicate(replicate), plan(all_stages(), cut) {
    auto conv = [](std::int64_t i, std::int64_t o, std::int64_t k, std::int64_t s, std::int64_t p) {
      return trex::Conv2d(nn::Conv2dOptions(i, o, k).stride(s).padding(p));
    };
    auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)); };
    auto relu = [] { return nn::ReLU(nn::ReLUOptions(true)); };
    features = register_module(
        "features", nn::Sequential(conv(replicate ? 3 : in_channels, 64, 11, 4, 2), relu(), pool(),
                                   conv(64, 192, 5, 1, 2), relu(), pool(), conv(192, 384, 3, 1, 1), relu(),
                                   conv(384, 256, 3, 1, 1), relu(), conv(256, 256, 3, 1, 1), relu(), pool()));
    avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({6, 6})));
    if (!plan.needs("fc6")) {  // the classifier (58 M of 61 M parameters) lies past the cut
      left_out.push_back("classifier");
      return;
    }
    classifier = register_module(
        "classifier", nn::Sequential(trex::Dropout(0.5), nn::Linear(256 * 6 * 6, 4096), relu(), trex::Dropout(0.5),
                                     nn::Linear(4096, 4096), relu(), nn::Linear(4096, classes)));
  }
  static std::vector<std::string> all_stages() {
    std::vector<std::string> s;
    for (const auto& [name, index] : kStages) s.push_back(name);
    s.insert(s.end(), {"avgpool", "fc6", "fc7", "classifier"});
    return s;
  }
  bool replicate;
  StagePlan plan;
  std::vector<std::string> left_out;
  nn::Sequential features{nullptr}, classifier{nullptr};
  nn::AdaptiveAvgPool2d avgpool{nullptr};
};
TORCH_MODULE(AlexNet);

class AlexNetModel : public Model {
 public:
  AlexNetModel(std::int64_t in_channels, std::int64_t classes, bool replicate, const std::string& cut)
      : net_(in_channels, classes, replicate, cut) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "classifier"); }
  std::vector<std::string> stages() const override { return AlexNetImpl::all_stages(); }
  std::vector<std::string> left_out() const override { return net_->left_out; }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    net_->plan.check(stage, "alexnet");
    torch::Tensor x = replicate_to_rgb(input, net_->replicate);
    if (forward_features_until(*net_->features, x, stage, kStages)) return x;
    x = net_->avgpool(x);
    if (stage == "avgpool") return x;
    x = x.flatten(1);
    std::int64_t c = 0;
    for (auto& m : *net_->classifier) {
      x = m.forward(x);
      if ((stage == "fc6" && c == 2) || (stage == "fc7" && c == 5)) return x;
      ++c;
    }
    TORCH_CHECK(stage == "classifier", "alexnet has no stage '", stage, "'");
    return x;
  }

 private:
  AlexNet net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(Kind::Model, "alexnet", "1.0.0",
                                   "AlexNet (input >= 63x63), torchvision layout; cut points conv1 ... pool5, fc6, fc7",
                                   {channel_mode_param()});
    d.model = imagenet_model_info("classifier");
    d.model.parity = {"alexnet",
                      {{"pool1", "features.2"},
                       {"pool2", "features.5"},
                       {"conv5", "features.11"},
                       {"pool5", "features.12"},
                       {"avgpool", "avgpool"},
                       {"fc6", "classifier.2"},
                       {"fc7", "classifier.5"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  check_channel_mode("alexnet", p.get_string("channel_mode"), ctx.channels);
  if ((ctx.height > 0 && ctx.height < 63) || (ctx.width > 0 && ctx.width < 63))
    throw std::invalid_argument("alexnet needs images of at least 63x63; add a resize to both augment lists");
  return std::make_unique<AlexNetModel>(ctx.channels, ctx.num_classes, p.get_string("channel_mode") == "replicate",
                                        ctx.cut);
}

}  // namespace trex_alexnet

TREX_PLUGIN(trex_alexnet::descriptor, trex_alexnet::create)
