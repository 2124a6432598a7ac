// An out-of-tree model plugin: a one-hidden-layer MLP.
#include <torch/nn/modules/linear.h>

#include "trex/plugin/export.h"
#include "trex/plugin/model.h"

namespace my_backbone {
using namespace trex;

struct MlpImpl : torch::nn::Module {
  MlpImpl(std::int64_t in, std::int64_t hidden, std::int64_t classes)
      : fc1(register_module("fc1", torch::nn::Linear(in, hidden))),
        classifier(register_module("classifier", torch::nn::Linear(hidden, classes))) {}
  torch::nn::Linear fc1, classifier;
};
TORCH_MODULE(Mlp);

class MlpModel : public Model {
 public:
  MlpModel(std::int64_t in, std::int64_t hidden, std::int64_t classes) : net_(in, hidden, classes) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "classifier"); }
  std::vector<std::string> stages() const override { return {"fc1", "classifier"}; }
  torch::Tensor forward_until(const torch::Tensor& x, const std::string& stage) override {
    auto h = torch::relu(net_->fc1(x.flatten(1)));
    return stage == "fc1" ? h : net_->classifier(h);
  }

 private:
  Mlp net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d =
        make_descriptor(Kind::Model, "my_backbone", "0.1.0", "an MLP built out of tree",
                        {ParamSpec("hidden", ParamType::Int, "hidden units").def(std::int64_t{32}).range(1, 4096)});
    d.model.input_channels = 1;
    d.model.input_height = 28;
    d.model.input_width = 28;
    d.model.classifier = "classifier";
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  return std::make_unique<MlpModel>(ctx.channels * ctx.height * ctx.width, p.get_int("hidden"), ctx.num_classes);
}

}  // namespace my_backbone

TREX_PLUGIN(my_backbone::descriptor, my_backbone::create)
