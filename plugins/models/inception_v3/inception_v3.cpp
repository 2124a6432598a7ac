// Inception v3, written to mirror torchvision 0.14's Inception3 (BasicConv2d =
// conv without bias + BN(eps 1e-3) + ReLU; Mixed_5b ... Mixed_7c), so its
// state dicts load 1:1. The auxiliary classifier only trains the original
// network, so it is left out (its AuxLogits.* keys are skipped on load).
// Cut points: torchvision names (maxpool2, Mixed_5b ... Mixed_7c, also in
// lower case, avgpool) and Keras's (mixed0 ... mixed10).
#include <cctype>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "../common/basic_conv.h"
#include "trex/plugin/export.h"
#include "trex/plugin/model.h"
#include "trex/plugin_kit/torchvision.h"

namespace trex_inception {
using namespace trex;
namespace nn = torch::nn;
using torch::Tensor;

using models::BasicConv;
using models::square;

BasicConv row(std::int64_t in, std::int64_t out, std::int64_t k) {  // 1 x k
  return BasicConv(in, out, std::vector<std::int64_t>{1, k}, 1, std::vector<std::int64_t>{0, k / 2});
}
BasicConv column(std::int64_t in, std::int64_t out, std::int64_t k) {  // k x 1
  return BasicConv(in, out, std::vector<std::int64_t>{k, 1}, 1, std::vector<std::int64_t>{k / 2, 0});
}
Tensor avg3(const Tensor& x) { return torch::avg_pool2d(x, 3, 1, 1); }

/// A block of parallel branches, each a chain of named convs, concatenated on channels.
struct BranchesImpl : nn::Module {
  BasicConv add(const std::string& name, BasicConv c) { return register_module(name, c); }
};

struct InceptionAImpl : BranchesImpl {
  InceptionAImpl(std::int64_t in, std::int64_t pool) {
    b1 = add("branch1x1", square(in, 64, 1));
    b5_1 = add("branch5x5_1", square(in, 48, 1));
    b5_2 = add("branch5x5_2", square(48, 64, 5, 1, 2));
    d1 = add("branch3x3dbl_1", square(in, 64, 1));
    d2 = add("branch3x3dbl_2", square(64, 96, 3, 1, 1));
    d3 = add("branch3x3dbl_3", square(96, 96, 3, 1, 1));
    bp = add("branch_pool", square(in, pool, 1));
  }
  Tensor forward(const Tensor& x) { return torch::cat({b1(x), b5_2(b5_1(x)), d3(d2(d1(x))), bp(avg3(x))}, 1); }
  BasicConv b1{nullptr}, b5_1{nullptr}, b5_2{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr}, bp{nullptr};
};
TORCH_MODULE(InceptionA);

struct InceptionBImpl : BranchesImpl {
  explicit InceptionBImpl(std::int64_t in) {
    b3 = add("branch3x3", square(in, 384, 3, 2));
    d1 = add("branch3x3dbl_1", square(in, 64, 1));
    d2 = add("branch3x3dbl_2", square(64, 96, 3, 1, 1));
    d3 = add("branch3x3dbl_3", square(96, 96, 3, 2));
  }
  Tensor forward(const Tensor& x) { return torch::cat({b3(x), d3(d2(d1(x))), torch::max_pool2d(x, 3, 2)}, 1); }
  BasicConv b3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr};
};
TORCH_MODULE(InceptionB);

struct InceptionCImpl : BranchesImpl {
  InceptionCImpl(std::int64_t in, std::int64_t c7) {
    b1 = add("branch1x1", square(in, 192, 1));
    s1 = add("branch7x7_1", square(in, c7, 1));
    s2 = add("branch7x7_2", row(c7, c7, 7));
    s3 = add("branch7x7_3", column(c7, 192, 7));
    d1 = add("branch7x7dbl_1", square(in, c7, 1));
    d2 = add("branch7x7dbl_2", column(c7, c7, 7));
    d3 = add("branch7x7dbl_3", row(c7, c7, 7));
    d4 = add("branch7x7dbl_4", column(c7, c7, 7));
    d5 = add("branch7x7dbl_5", row(c7, 192, 7));
    bp = add("branch_pool", square(in, 192, 1));
  }
  Tensor forward(const Tensor& x) { return torch::cat({b1(x), s3(s2(s1(x))), d5(d4(d3(d2(d1(x))))), bp(avg3(x))}, 1); }
  BasicConv b1{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, d1{nullptr}, d2{nullptr}, d3{nullptr}, d4{nullptr},
      d5{nullptr}, bp{nullptr};
};
TORCH_MODULE(InceptionC);

struct InceptionDImpl : BranchesImpl {
  explicit InceptionDImpl(std::int64_t in) {
    t1 = add("branch3x3_1", square(in, 192, 1));
    t2 = add("branch3x3_2", square(192, 320, 3, 2));
    s1 = add("branch7x7x3_1", square(in, 192, 1));
    s2 = add("branch7x7x3_2", row(192, 192, 7));
    s3 = add("branch7x7x3_3", column(192, 192, 7));
    s4 = add("branch7x7x3_4", square(192, 192, 3, 2));
  }
  Tensor forward(const Tensor& x) { return torch::cat({t2(t1(x)), s4(s3(s2(s1(x)))), torch::max_pool2d(x, 3, 2)}, 1); }
  BasicConv t1{nullptr}, t2{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, s4{nullptr};
};
TORCH_MODULE(InceptionD);

struct InceptionEImpl : BranchesImpl {
  explicit InceptionEImpl(std::int64_t in) {
    b1 = add("branch1x1", square(in, 320, 1));
    t1 = add("branch3x3_1", square(in, 384, 1));
    t2a = add("branch3x3_2a", row(384, 384, 3));
    t2b = add("branch3x3_2b", column(384, 384, 3));
    d1 = add("branch3x3dbl_1", square(in, 448, 1));
    d2 = add("branch3x3dbl_2", square(448, 384, 3, 1, 1));
    d3a = add("branch3x3dbl_3a", row(384, 384, 3));
    d3b = add("branch3x3dbl_3b", column(384, 384, 3));
    bp = add("branch_pool", square(in, 192, 1));
  }
  Tensor forward(const Tensor& x) {
    const Tensor t = t1(x), d = d2(d1(x));
    return torch::cat({b1(x), torch::cat({t2a(t), t2b(t)}, 1), torch::cat({d3a(d), d3b(d)}, 1), bp(avg3(x))}, 1);
  }
  BasicConv b1{nullptr}, t1{nullptr}, t2a{nullptr}, t2b{nullptr}, d1{nullptr}, d2{nullptr}, d3a{nullptr}, d3b{nullptr},
      bp{nullptr};
};
TORCH_MODULE(InceptionE);

// torchvision's mixed blocks in order, with Keras's names for the same outputs.
const std::vector<std::string> kMixed = {"Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                                         "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"};

struct Inception3Impl : nn::Module {
  Inception3Impl(std::int64_t in_channels, std::int64_t classes, bool replicate, bool transform_input)
      : replicate(replicate), transform_input(transform_input) {
    stem = {register_module("Conv2d_1a_3x3", square(replicate ? 3 : in_channels, 32, 3, 2)),
            register_module("Conv2d_2a_3x3", square(32, 32, 3)),
            register_module("Conv2d_2b_3x3", square(32, 64, 3, 1, 1)),
            register_module("Conv2d_3b_1x1", square(64, 80, 1)), register_module("Conv2d_4a_3x3", square(80, 192, 3))};
    mixed = {register_module(kMixed[0], InceptionA(192, 32)),  register_module(kMixed[1], InceptionA(256, 64)),
             register_module(kMixed[2], InceptionA(288, 64)),  register_module(kMixed[3], InceptionB(288)),
             register_module(kMixed[4], InceptionC(768, 128)), register_module(kMixed[5], InceptionC(768, 160)),
             register_module(kMixed[6], InceptionC(768, 160)), register_module(kMixed[7], InceptionC(768, 192)),
             register_module(kMixed[8], InceptionD(768)),      register_module(kMixed[9], InceptionE(1280)),
             register_module(kMixed[10], InceptionE(2048))};
    fc = register_module("fc", nn::Linear(2048, classes));
  }
  bool replicate, transform_input;
  std::vector<BasicConv> stem;
  std::vector<std::shared_ptr<nn::Module>> mixed;
  nn::Linear fc{nullptr};
};
TORCH_MODULE(Inception3);

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Tensor run_mixed(const std::shared_ptr<nn::Module>& m, const Tensor& x) {
  if (auto a = std::dynamic_pointer_cast<InceptionAImpl>(m)) return a->forward(x);
  if (auto b = std::dynamic_pointer_cast<InceptionBImpl>(m)) return b->forward(x);
  if (auto c = std::dynamic_pointer_cast<InceptionCImpl>(m)) return c->forward(x);
  if (auto d = std::dynamic_pointer_cast<InceptionDImpl>(m)) return d->forward(x);
  return std::dynamic_pointer_cast<InceptionEImpl>(m)->forward(x);
}

class InceptionModel : public Model {
 public:
  InceptionModel(std::int64_t in_channels, std::int64_t classes, bool replicate, bool transform_input)
      : net_(in_channels, classes, replicate, transform_input) {}
  std::shared_ptr<torch::nn::Module> module() override { return net_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return forward_until(x, "fc"); }
  std::vector<std::string> stages() const override {
    std::vector<std::string> s{"maxpool1", "maxpool2"};
    s.insert(s.end(), kMixed.begin(), kMixed.end());
    for (int i = 0; i <= 10; ++i) s.push_back("mixed" + std::to_string(i));
    s.insert(s.end(), {"avgpool", "fc"});
    return s;
  }
  torch::Tensor forward_until(const torch::Tensor& input, const std::string& stage) override {
    Tensor x = replicate_to_rgb(input, net_->replicate);
    if (net_->transform_input) {
      // ImageNet-normalised input -> the [-1, 1] scaling Google's weights expect (torchvision's transform_input).
      const double mean[] = {0.485, 0.456, 0.406}, std[] = {0.229, 0.224, 0.225};
      std::vector<Tensor> ch;
      for (int c = 0; c < 3; ++c) ch.push_back(x.select(1, c).unsqueeze(1) * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5);
      x = torch::cat(ch, 1);
    }
    x = net_->stem[1](net_->stem[0](x));
    x = torch::max_pool2d(net_->stem[2](x), 3, 2);
    if (stage == "maxpool1") return x;
    x = torch::max_pool2d(net_->stem[4](net_->stem[3](x)), 3, 2);
    if (stage == "maxpool2") return x;
    for (std::size_t i = 0; i < kMixed.size(); ++i) {
      x = run_mixed(net_->mixed[i], x);
      if (stage == kMixed[i] || stage == "mixed" + std::to_string(i) || stage == lower(kMixed[i])) return x;
    }
    return pooled_classifier(x, stage, "inception_v3", net_->fc, 0.5, net_->is_training());
  }

 private:
  Inception3 net_;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(
        Kind::Model, "inception_v3", "1.0.0",
        "Inception v3 (input >= 75x75, 299x299 as trained), torchvision layout; cut points Mixed_5b ... Mixed_7c (or "
        "mixed_5b ...) = Keras mixed0 ... mixed10",
        {channel_mode_param(),
         ParamSpec(
             "transform_input", T::Bool,
             "map ImageNet-normalised input to [-1, 1] as Google's weights expect (torchvision sets it with weights)")
             .def(false)});
    d.model = imagenet_model_info("fc");
    d.model.input_height = d.model.input_width = 299;
    d.model.parity = {"inception_v3",
                      {{"maxpool2", "maxpool2"},
                       {"Mixed_5b", "Mixed_5b"},
                       {"mixed2", "Mixed_5d"},
                       {"Mixed_6a", "Mixed_6a"},
                       {"mixed_6b", "Mixed_6b"},
                       {"mixed7", "Mixed_6e"},
                       {"Mixed_7a", "Mixed_7a"},
                       {"mixed10", "Mixed_7c"},
                       {"avgpool", "avgpool"}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext& ctx) {
  check_channel_mode("inception_v3", p.get_string("channel_mode"), ctx.channels);
  if ((ctx.height > 0 && ctx.height < 75) || (ctx.width > 0 && ctx.width < 75))
    throw std::invalid_argument("inception_v3 needs images of at least 75x75, got " + std::to_string(ctx.height) + "x" +
                                std::to_string(ctx.width) +
                                "; add {type: resize, size: [299, 299]} to both augment lists");
  return std::make_unique<InceptionModel>(ctx.channels, ctx.num_classes, p.get_string("channel_mode") == "replicate",
                                          p.get_bool("transform_input"));
}

}  // namespace trex_inception

TREX_PLUGIN(trex_inception::descriptor, trex_inception::create)
