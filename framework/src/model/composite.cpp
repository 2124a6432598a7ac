#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/functional.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/utils.h>

#include <optional>

#include "trex/model/composite.h"
#include "trex/model/feature_split.h"
#include "trex/model/inference_graph.h"
#include "trex/plugin_kit/batch_norm.h"
#include "trex/plugin_kit/dropout.h"
#include "trex/plugin/dataset.h"
#include "trex/plugin/model.h"

namespace trex {
namespace {

namespace nn = torch::nn;

using Fn = std::function<torch::Tensor(torch::Tensor)>;

nn::Functional layer(Fn f) { return nn::Functional(std::move(f)); }

nn::Functional activation(const std::string& name) {
  if (name == "relu") return layer([](torch::Tensor x) { return torch::relu(x); });
  if (name == "sigmoid") return layer([](torch::Tensor x) { return torch::sigmoid(x); });
  if (name == "tanh") return layer([](torch::Tensor x) { return torch::tanh(x); });
  return layer([](torch::Tensor x) { return torch::gelu(x); });
}

bool under(const std::string& name, const std::string& prefix) {
  return name == prefix || name.rfind(prefix + ".", 0) == 0;
}

struct CompositeImpl : nn::Module {
  CompositeImpl(std::shared_ptr<Model> model, const CompositeSpec& spec, const ImageShape& input, std::int64_t classes)
      : backbone_model(std::move(model)), cut(spec.cut), input(input), graph_asked(spec.inference_graph) {
    backbone = register_module("backbone", backbone_model->module());
    auto stages = backbone_model->stages();
    if (cut.empty()) cut = stages.size() >= 2 ? stages[stages.size() - 2] : stages.back();
    if (std::find(stages.begin(), stages.end(), cut) == stages.end()) {
      std::string list;
      for (const auto& s : stages) list += (list.empty() ? "" : ", ") + s;
      throw std::runtime_error("model.backbone.cut: '" + cut + "' is not a stage of " + spec.backbone.type +
                               "; stages: " + list);
    }
    // Freezing: the whole backbone, or the modules under the given paths.
    for (const auto& p : backbone->named_parameters()) {
      bool frozen = spec.freeze_all;
      for (const auto& prefix : spec.freeze) frozen = frozen || under(p.key(), prefix);
      if (frozen) p.value().set_requires_grad(false), frozen_params.push_back(p.key());
    }
    if (spec.bn_frozen)
      for (const auto& m : backbone->named_modules("", false)) {
        bool frozen = spec.freeze_all;
        for (const auto& prefix : spec.freeze) frozen = frozen || under(m.key(), prefix);
        if (frozen && m.value()->name().find("BatchNorm") != std::string::npos)
          frozen_bn.push_back(m.value()), frozen_bn_names.push_back(m.key());
      }
    // The head's input: the backbone's output shape at the cut.
    torch::NoGradGuard no_grad;
    backbone->eval();
    auto probe = backbone_model->forward_until(torch::zeros({1, input.channels, input.height, input.width}), cut);
    std::vector<std::int64_t> shape = probe.sizes().vec();
    head = nn::Sequential();
    for (std::size_t i = 0; i < spec.head.size(); ++i) {
      const HeadLayer& l = spec.head[i];
      const bool last = i + 1 == spec.head.size();
      if (l.type == "global_avg_pool" || l.type == "global_max_pool") {
        if (shape.size() != 4)
          throw std::runtime_error("model.head." + std::to_string(i) + ": " + l.type +
                                   " needs a feature map [B, C, H, W], got " + std::to_string(shape.size()) +
                                   " dimensions");
        const bool avg = l.type == "global_avg_pool";
        head->push_back(layer([avg](torch::Tensor x) {
          return (avg ? torch::adaptive_avg_pool2d(x, {1, 1}) : std::get<0>(torch::adaptive_max_pool2d(x, {1, 1})))
              .flatten(1);
        }));
        shape = {1, shape[1]};
        if (i == 0) pool_first = true;
      } else if (l.type == "flatten") {
        head->push_back(layer([](torch::Tensor x) { return x.flatten(1); }));
        std::int64_t n = 1;
        for (std::size_t d = 1; d < shape.size(); ++d) n *= shape[d];
        shape = {1, n};
      } else if (l.type == "batch_norm") {
        if (shape.size() == 4)
          head->push_back(trex::BatchNorm2d(shape[1]));
        else
          head->push_back(trex::BatchNorm1d(shape[1]));
      } else if (l.type == "dense") {
        if (shape.size() != 2)
          throw std::runtime_error("model.head." + std::to_string(i) +
                                   ": dense needs flat features; add global_avg_pool or flatten before it");
        const std::int64_t units = l.units > 0 ? l.units : classes;
        if (last && units != classes)
          throw std::runtime_error("model.head." + std::to_string(i) + ": the last dense has " + std::to_string(units) +
                                   " units but the dataset has " + std::to_string(classes) +
                                   " classes; leave units out");
        head->push_back(nn::Linear(shape[1], units));
        if (l.activation != "none") head->push_back(activation(l.activation));
        shape = {1, units};
      } else if (l.type == "dropout") {
        head->push_back(trex::Dropout(l.p));
      } else {
        head->push_back(activation(l.activation));
      }
    }
    register_module("head", head);
  }

  void train(bool on) override {
    nn::Module::train(on);
    for (auto& bn : frozen_bn) bn->eval();  // frozen BN keeps its running statistics
  }

  std::shared_ptr<Model> backbone_model;
  std::shared_ptr<nn::Module> backbone;
  nn::Sequential head{nullptr};
  std::string cut;
  ImageShape input;
  bool pool_first = false;  ///< the head starts with a global pooling
  bool graph_asked = true;  ///< model.backbone.inference_graph: auto
  std::vector<std::string> frozen_params;
  std::vector<std::shared_ptr<nn::Module>> frozen_bn;
  std::vector<std::string> frozen_bn_names;
};

class CompositeModel : public Model, public FeatureSplit {
 public:
  explicit CompositeModel(std::shared_ptr<CompositeImpl> impl) : impl_(std::move(impl)) {
    // A backbone frozen whole, whose BatchNorm keeps its statistics and that
    // acts the same in training mode, is pure inference: it runs as a graph.
    // Asked once, here: only unfreezing changes that, and forward checks it.
    if (impl_->graph_asked && cache_blocker().empty())
      graph_ = std::make_unique<InferenceGraph>(impl_->backbone, [this](const at::Tensor& x) { return features(x); });
  }
  std::shared_ptr<nn::Module> module() override { return impl_; }
  torch::Tensor forward(const torch::Tensor& x) override { return head_forward(frozen_features(x)); }

  at::Tensor frozen_features(const at::Tensor& x) override {
    // A backbone that does not train needs no autograd record.
    std::optional<torch::NoGradGuard> no_grad;
    const bool frozen = backbone_frozen();
    if (frozen) no_grad.emplace();
    at::Tensor y = frozen && graph_usable() ? (*graph_)(x) : features(x);
    return impl_->pool_first ? impl_->head[0]->as<nn::Functional>()->forward(y) : y;
  }
  at::Tensor head_forward(const at::Tensor& features) override {
    at::Tensor y = features;
    std::size_t i = 0;
    for (auto& m : *impl_->head)
      if (i++ > 0 || !impl_->pool_first) y = m.forward(y);
    return y;
  }
  std::string cache_blocker() override {
    if (!backbone_frozen()) return "the backbone has trainable parameters (model.backbone.freeze is not true)";
    for (const auto& m : impl_->backbone->named_modules("", false))
      if (m.value()->name().find("BatchNorm") != std::string::npos &&
          std::find(impl_->frozen_bn.begin(), impl_->frozen_bn.end(), m.value()) == impl_->frozen_bn.end())
        return "BatchNorm layer '" + m.key() + "' of the backbone trains its statistics (model.backbone.bn: train)";
    // Anything else that acts differently in training mode (dropout before the
    // cut) shows on a probe; BatchNorm is excluded above, so nothing updates.
    torch::NoGradGuard no_grad;
    const bool was_training = impl_->is_training();
    // Its own generator: asking must not move the run's random streams.
    const at::Tensor probe = torch::rand({2, impl_->input.channels, impl_->input.height, impl_->input.width},
                                         at::detail::createCPUGenerator(0));
    impl_->train(true);
    const at::Tensor a = features(probe), b = features(probe);
    impl_->train(false);
    const at::Tensor c = features(probe);
    impl_->train(was_training);
    if (!torch::equal(a, c) || !torch::equal(b, c))
      return "the backbone behaves differently in training mode before the cut (dropout?)";
    return "";
  }
  std::vector<std::string> unchanging_backbone_tensors() const override {
    std::vector<std::string> out;
    for (const auto& p : impl_->backbone->named_parameters())
      if (!p.value().requires_grad()) out.push_back(p.key());
    for (std::size_t i = 0; i < impl_->frozen_bn.size(); ++i)
      for (const auto& b : impl_->frozen_bn[i]->named_buffers())
        out.push_back(impl_->frozen_bn_names[i] + "." + b.key());
    return out;
  }
  std::vector<std::string> stages() const override {
    std::vector<std::string> out;
    for (const auto& s : impl_->backbone_model->stages()) {
      out.push_back(s);
      if (s == impl_->cut) break;
    }
    for (std::size_t i = 0; i < impl_->head->size(); ++i) out.push_back("head." + std::to_string(i));
    return out;
  }
  torch::Tensor forward_until(const torch::Tensor& x, const std::string& stage) override {
    if (stage.rfind("head.", 0) != 0) return impl_->backbone_model->forward_until(x, stage);
    const auto last = std::stoul(stage.substr(5));
    torch::Tensor y = features(x);
    std::size_t i = 0;
    for (auto& m : *impl_->head) {  // the head's layers one at a time, up to the asked one
      if (i++ > last) break;
      y = m.forward(y);
    }
    return y;
  }

 private:
  torch::Tensor features(const torch::Tensor& x) { return impl_->backbone_model->forward_until(x, impl_->cut); }
  /// Inside a trace (export) the backbone stays eager, so the exported file
  /// holds its own weights, not the graph's folded constants.
  bool graph_usable() const { return graph_ && !torch::jit::tracer::isTracing(); }
  bool backbone_frozen() const {
    for (const auto& p : impl_->backbone->parameters())
      if (p.requires_grad()) return false;
    return true;
  }
  std::shared_ptr<CompositeImpl> impl_;
  std::unique_ptr<InferenceGraph> graph_;
};

}  // namespace

std::shared_ptr<Model> make_composite(std::shared_ptr<Model> backbone, const CompositeSpec& spec,
                                      const ImageShape& input, std::int64_t classes) {
  return std::make_shared<CompositeModel>(std::make_shared<CompositeImpl>(std::move(backbone), spec, input, classes));
}

}  // namespace trex
