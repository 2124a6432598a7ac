// MobileNet v2 and v3 (small, large), written to mirror torchvision 0.14
// (`features.N` with Conv2dNormActivation = Sequential(conv, bn, act),
// InvertedResidual `.conv` (v2) / `.block` (v3), SqueezeExcitation fc1/fc2,
// `classifier`), so its state dicts load 1:1. Cut points: features.N, the
// stride stages (stage1 ... stage5: the last block at each resolution),
// avgpool, classifier.
#include <map>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/dropout.h"
#include "trex/plugin_kit/torchvision.h"
#include "trex/plugin_kit/batch_norm.h"

namespace trex_mobilenet {
using namespace trex;
namespace nn = torch::nn;
using torch::Tensor;

enum class Act { None, ReLU6, ReLU, Hardswish };

struct ActivationImpl : nn::Module {
  explicit ActivationImpl(Act a) : act(a) {}
  Tensor forward(const Tensor& x) {
    switch (act) {
      case Act::ReLU6: return torch::hardtanh(x, 0, 6);
      case Act::ReLU: return torch::relu(x);
      case Act::Hardswish: return torch::hardswish(x);
      default: return x;
    }
  }
  Act act;
};
TORCH_MODULE(Activation);

/// A Sequential that can sit inside another (LibTorch's own forward is a template).
struct SeqImpl : nn::SequentialImpl {
  using SequentialImpl::SequentialImpl;
  Tensor forward(Tensor x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Seq);

/// torchvision's Conv2dNormActivation: Sequential(conv, bn[, activation]).
Seq conv_bn(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t groups, Act act,
            double eps, double momentum) {
  Seq s(nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding((k - 1) / 2).groups(groups).bias(false)),
        trex::BatchNorm2d(nn::BatchNorm2dOptions(out).eps(eps).momentum(momentum)));
  if (act != Act::None) s->push_back(Activation(act));
  return s;
}

std::int64_t make_divisible(double v, std::int64_t divisor = 8) {
  auto out = std::max<std::int64_t>(divisor, static_cast<std::int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(out) < 0.9 * v) out += divisor;
  return out;
}

struct SqueezeExcitationImpl : nn::Module {
  SqueezeExcitationImpl(std::int64_t channels, std::int64_t squeeze) {
    fc1 = register_module("fc1", nn::Conv2d(nn::Conv2dOptions(channels, squeeze, 1)));
    fc2 = register_module("fc2", nn::Conv2d(nn::Conv2dOptions(squeeze, channels, 1)));
  }
  Tensor forward(const Tensor& x) {
    const Tensor s = torch::hardsigmoid(fc2(torch::relu(fc1(torch::adaptive_avg_pool2d(x, {1, 1})))));
    return x * s;
  }
  nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

/// An inverted residual block; `body` is torchvision's `.conv` (v2) or `.block` (v3).
struct InvertedResidualImpl : nn::Module {
  InvertedResidualImpl(const std::string& body_name, Seq b, bool residual) : residual(residual) {
    body = register_module(body_name, b);
  }
  Tensor forward(const Tensor& x) { return residual ? x + body->forward(x) : body->forward(x); }
  Seq body{nullptr};
  bool residual;
};
TORCH_MODULE(InvertedResidual);

struct V3Block {
  std::int64_t in, k, expanded, out;
  bool se;
  Act act;
  std::int64_t stride;
};

struct MobileNetImpl : nn::Module {
  MobileNetImpl(const std::string& variant, std::int64_t in_channels, std::int64_t classes, bool replicate)
      : replicate(replicate) {
    features = nn::Sequential();
    const std::int64_t first_in = replicate ? 3 : in_channels;
    if (variant == "v2") {
      features->push_back(conv_bn(first_in, 32, 3, 2, 1, Act::ReLU6, 1e-5, 0.1));
      std::int64_t in = 32;
      const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
      for (const auto& s : settings)
        for (int i = 0; i < s[2]; ++i) {
          const std::int64_t stride = i == 0 ? s[3] : 1, out = s[1], hidden = in * s[0];
          Seq body;
          if (s[0] != 1) body->push_back(conv_bn(in, hidden, 1, 1, 1, Act::ReLU6, 1e-5, 0.1));
          body->push_back(conv_bn(hidden, hidden, 3, stride, hidden, Act::ReLU6, 1e-5, 0.1));
          body->push_back(nn::Conv2d(nn::Conv2dOptions(hidden, out, 1).bias(false)));
          body->push_back(trex::BatchNorm2d(out));
          features->push_back(InvertedResidual("conv", body, stride == 1 && in == out));
          strides.push_back(stride);
          in = out;
        }
      features->push_back(conv_bn(in, 1280, 1, 1, 1, Act::ReLU6, 1e-5, 0.1));
      classifier = nn::Sequential(trex::Dropout(0.2), nn::Linear(1280, classes));
    } else {
      const auto RE = Act::ReLU, HS = Act::Hardswish;
      const std::vector<V3Block> large = {
          {16, 3, 16, 16, false, RE, 1},   {16, 3, 64, 24, false, RE, 2},   {24, 3, 72, 24, false, RE, 1},
          {24, 5, 72, 40, true, RE, 2},    {40, 5, 120, 40, true, RE, 1},   {40, 5, 120, 40, true, RE, 1},
          {40, 3, 240, 80, false, HS, 2},  {80, 3, 200, 80, false, HS, 1},  {80, 3, 184, 80, false, HS, 1},
          {80, 3, 184, 80, false, HS, 1},  {80, 3, 480, 112, true, HS, 1},  {112, 3, 672, 112, true, HS, 1},
          {112, 5, 672, 160, true, HS, 2}, {160, 5, 960, 160, true, HS, 1}, {160, 5, 960, 160, true, HS, 1}};
      const std::vector<V3Block> small = {
          {16, 3, 16, 16, true, RE, 2},  {16, 3, 72, 24, false, RE, 2}, {24, 3, 88, 24, false, RE, 1},
          {24, 5, 96, 40, true, HS, 2},  {40, 5, 240, 40, true, HS, 1}, {40, 5, 240, 40, true, HS, 1},
          {40, 5, 120, 48, true, HS, 1}, {48, 5, 144, 48, true, HS, 1}, {48, 5, 288, 96, true, HS, 2},
          {96, 5, 576, 96, true, HS, 1}, {96, 5, 576, 96, true, HS, 1}};
      const auto& blocks = variant == "v3_large" ? large : small;
      const double eps = 0.001, mom = 0.01;
      features->push_back(conv_bn(first_in, 16, 3, 2, 1, HS, eps, mom));
      for (const auto& b : blocks) {
        Seq body;
        if (b.expanded != b.in) body->push_back(conv_bn(b.in, b.expanded, 1, 1, 1, b.act, eps, mom));
        body->push_back(conv_bn(b.expanded, b.expanded, b.k, b.stride, b.expanded, b.act, eps, mom));
        if (b.se) body->push_back(SqueezeExcitation(b.expanded, make_divisible(static_cast<double>(b.expanded / 4))));
        body->push_back(conv_bn(b.expanded, b.out, 1, 1, 1, Act::None, eps, mom));
        features->push_back(InvertedResidual("block", body, b.stride == 1 && b.in == b.out));
        strides.push_back(b.stride);
      }
      const std::int64_t last_in = blocks.back().out, last = 6 * last_in, hidden = variant == "v3_large" ? 1280 : 1024;
      features->push_back(conv_bn(last_in, last, 1, 1, 1, HS, eps, mom));
      classifier =
          nn::Sequential(nn::Linear(last, hidden), Activation(HS), trex::Dropout(0.2), nn::Linear(hidden, classes));
    }
    register_module("features", features);
    register_module("classifier", classifier);
  }
  bool replicate;
  nn::Sequential features{nullptr}, classifier{nullptr};
  std::vector<std::int64_t> strides;  ///< of the inverted residual blocks, features.1 onwards
};
TORCH_MODULE(MobileNet);

class MobileNetModel : public Model {
 public:
  MobileNetModel(const std::string& variant, std::int64_t in_channels, std::int64_t classes, bool replicate)
      : net_(variant, in_channels, classes, replicate) {
    // stageK: the last feature layer at 1/2^K of the input size (the stem halves it).
    std::map<std::int64_t, std::int64_t> last_at{{1, 0}};
    std::int64_t k = 1;
    for (std::size_t i = 0; i < net_->strides.size(); ++i) {
      if (net_->strides[i] == 2) ++k;
      last_at[k] = static_cast<std::int64_t>(i) + 1;
    }
    last_at[k] = static_cast<std::int64_t>(net_->features->size()) - 1;  // the final 1x1 conv
    for (const auto& [level, index] : last_at) stage_ends_.push_back({"stage" + std::to_string(level), index});
  }
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "classifier"); }
  std::vector<std::string> stages() const override {
    std::vector<std::string> s;
    for (const auto& [name, index] : stage_ends_) s.push_back(name);
    s.insert(s.end(), {"avgpool", "classifier"});
    return s;
  }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    Tensor x = replicate_to_rgb(input, net_->replicate);
    if (forward_features_until(*net_->features, x, stage, stage_ends_)) return x;
    x = torch::adaptive_avg_pool2d(x, {1, 1});
    if (stage == "avgpool") return x;
    TORCH_CHECK(stage == "classifier", "mobilenet has no stage '", stage, "'");
    return net_->classifier->forward(x.flatten(1));
  }

 private:
  MobileNet net_;
  FeatureStages stage_ends_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d =
        make_descriptor(Kind::Model, "mobilenet", "1.0.0",
                        "MobileNet v2 / v3 small / v3 large, torchvision layout; cut points stage1 ... stage5",
                        {ParamSpec("variant", ParamType::String, "v2, v3_small or v3_large")
                             .def(std::string("v2"))
                             .one_of({"v2", "v3_small", "v3_large"}),
                         channel_mode_param()});
    d.presets = {{"mobilenet_v2", "MobileNet v2", {{"variant", std::string("v2")}}},
                 {"mobilenet_v3_small", "MobileNet v3 small", {{"variant", std::string("v3_small")}}},
                 {"mobilenet_v3_large", "MobileNet v3 large", {{"variant", std::string("v3_large")}}}};
    d.model = imagenet_model_info("classifier");
    d.presets[0].parity = {"mobilenet_v2",
                           {{"stage1", "features.1"},
                            {"stage2", "features.3"},
                            {"stage3", "features.6"},
                            {"features.10", "features.10"},
                            {"stage4", "features.13"},
                            {"stage5", "features.18"}}};
    d.presets[1].parity = {"mobilenet_v3_small",
                           {{"stage1", "features.0"},
                            {"stage2", "features.1"},
                            {"stage3", "features.3"},
                            {"stage4", "features.8"},
                            {"stage5", "features.12"}}};
    d.presets[2].parity = {"mobilenet_v3_large",
                           {{"stage1", "features.1"},
                            {"stage2", "features.3"},
                            {"stage3", "features.6"},
                            {"stage4", "features.12"},
                            {"stage5", "features.16"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  check_channel_mode("mobilenet", p.get_string("channel_mode"), ctx.channels);
  return std::make_unique<MobileNetModel>(p.get_string("variant"), ctx.channels, ctx.num_classes,
                                          p.get_string("channel_mode") == "replicate");
}

}  // namespace trex_mobilenet

TREX_PLUGIN(trex_mobilenet::descriptor, trex_mobilenet::create)
