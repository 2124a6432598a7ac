// The book's CNN from scratch: Conv16 3x3 -> Conv32 3x3 same (+L2) -> BN ->
// MaxPool 2 -> Dropout -> Flatten -> Dense ReLU -> Dropout -> Dense classes.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/batch_norm.h"
#include "trex/plugin_kit/dropout.h"

namespace trex_seed_cnn {
using namespace trex;
namespace F = torch::nn::functional;

struct SeedCnnOptions {
  SeedCnnOptions(std::int64_t channels, std::int64_t height, std::int64_t width, std::int64_t classes)
      : channels_(channels), height_(height), width_(width), classes_(classes) {}
  TORCH_ARG(std::int64_t, channels);
  TORCH_ARG(std::int64_t, height);
  TORCH_ARG(std::int64_t, width);
  TORCH_ARG(std::int64_t, classes);
  /// filters of the first (valid) 3x3 conv; default 16
  TORCH_ARG(std::int64_t, conv1_filters) = 16;
  /// filters of the second (same) 3x3 conv; default 32
  TORCH_ARG(std::int64_t, conv2_filters) = 32;
  /// units of the hidden dense layer; default 128
  TORCH_ARG(std::int64_t, dense_units) = 128;
  /// dropout after pooling, [0, 1); default 0.2
  TORCH_ARG(double, dropout1) = 0.2;
  /// dropout before the classifier, [0, 1); default 0.5
  TORCH_ARG(double, dropout2) = 0.5;
  /// L2 factor on the second conv's kernel, added to the loss as l2 * sum(w^2) (Keras semantics)
  TORCH_ARG(double, l2) = 0.0;
};

struct SeedCnnImpl : torch::nn::Module {
  explicit SeedCnnImpl(const SeedCnnOptions& o) : options(o) {
    TORCH_CHECK(o.height() >= 4 && o.width() >= 4, "seed_cnn needs inputs of at least 4x4, got ", o.height(), "x",
                o.width());
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.channels(), o.conv1_filters(), 3)));
    conv2 = register_module(
        "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.conv1_filters(), o.conv2_filters(), 3).padding(1)));
    bn = register_module("bn", trex::BatchNorm2d(o.conv2_filters()));
    drop1 = register_module("dropout1", trex::Dropout(o.dropout1()));
    const std::int64_t flat = o.conv2_filters() * ((o.height() - 2) / 2) * ((o.width() - 2) / 2);
    fc1 = register_module("fc1", torch::nn::Linear(flat, o.dense_units()));
    drop2 = register_module("dropout2", trex::Dropout(o.dropout2()));
    classifier = register_module("classifier", torch::nn::Linear(o.dense_units(), o.classes()));
  }

  /// Runs the stages in order and stops after `until` (empty: run all).
  torch::Tensor run(torch::Tensor x, const std::string& until) {
    auto stage = [&](const char* name, auto&& fn) {
      if (done) return;
      x = fn(x);
      done = until == name;
    };
    done = false;
    stage("conv1", [&](const torch::Tensor& t) { return torch::relu(conv1(t)); });
    stage("conv2", [&](const torch::Tensor& t) { return torch::relu(conv2(t)); });
    stage("bn", [&](const torch::Tensor& t) { return bn(t); });
    stage("pool", [&](const torch::Tensor& t) { return F::max_pool2d(t, F::MaxPool2dFuncOptions(2)); });
    stage("dropout1", [&](const torch::Tensor& t) { return drop1(t); });
    stage("flatten", [&](const torch::Tensor& t) { return t.flatten(1); });
    stage("fc1", [&](const torch::Tensor& t) { return torch::relu(fc1(t)); });
    stage("dropout2", [&](const torch::Tensor& t) { return drop2(t); });
    stage("classifier", [&](const torch::Tensor& t) { return classifier(t); });
    return x;
  }

  SeedCnnOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  trex::BatchNorm2d bn{nullptr};
  trex::Dropout drop1{nullptr}, drop2{nullptr};
  torch::nn::Linear fc1{nullptr}, classifier{nullptr};
  bool done = false;
};
TORCH_MODULE(SeedCnn);

class SeedCnnModel : public Model {
 public:
  explicit SeedCnnModel(const SeedCnnOptions& o) : net_(o) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return net_->run(x, ""); }
  std::vector<std::string> stages() const override {
    return {"conv1", "conv2", "bn", "pool", "dropout1", "flatten", "fc1", "dropout2", "classifier"};
  }
  torch::Tensor forward_until(const torch::Tensor& x, const std::string& stage) override {
    auto all = stages();
    TORCH_CHECK(std::find(all.begin(), all.end(), stage) != all.end(), "seed_cnn has no stage '", stage, "'");
    return net_->run(x, stage);
  }
  torch::Tensor regularization() override {
    if (net_->options.l2() == 0) return {};
    return net_->options.l2() * net_->conv2->weight.pow(2).sum();
  }

 private:
  SeedCnn net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(Kind::Model, "seed_cnn", "1.0.0",
                                   "the book's small CNN from scratch (two 3x3 convs, BN, pool, dense 128)");
    d.params = {
        ParamSpec("conv1_filters", T::Int, "filters of the first 3x3 conv (valid padding)")
            .def(std::int64_t{16})
            .range(1, 4096),
        ParamSpec("conv2_filters", T::Int, "filters of the second 3x3 conv (same padding)")
            .def(std::int64_t{32})
            .range(1, 4096),
        ParamSpec("dense_units", T::Int, "units of the hidden dense layer").def(std::int64_t{128}).range(1, 1 << 16),
        ParamSpec("dropout1", T::Float, "dropout after pooling").def(0.2).range(0, 0.99),
        ParamSpec("dropout2", T::Float, "dropout before the classifier").def(0.5).range(0, 0.99),
        ParamSpec("l2", T::Float, "L2 factor on the second conv's kernel (Keras: l2 * sum(w^2) added to the loss)")
            .def(0.0)
            .at_least(0),
    };
    d.model.input_channels = 3;
    d.model.input_height = 32;
    d.model.input_width = 32;
    d.model.mean = {0.0};
    d.model.std = {1.0};
    d.model.classifier = "classifier";
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  TORCH_CHECK(ctx.num_classes > 0, "seed_cnn needs the dataset's number of classes");
  SeedCnnOptions o(ctx.channels, ctx.height, ctx.width, ctx.num_classes);
  o.conv1_filters(p.get_int("conv1_filters"))
      .conv2_filters(p.get_int("conv2_filters"))
      .dense_units(p.get_int("dense_units"))
      .dropout1(p.get_float("dropout1"))
      .dropout2(p.get_float("dropout2"))
      .l2(p.get_float("l2"));
  return std::make_unique<SeedCnnModel>(o);
}

}  // namespace trex_seed_cnn

TREX_PLUGIN(trex_seed_cnn::descriptor, trex_seed_cnn::create)
