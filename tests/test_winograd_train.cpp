// Winograd convolutions in training (model/winograd.h, plugin_kit/conv.h):
// the autograd op equals conv2d and its gradients within rounding; trex::Conv2d
// is torch::nn::Conv2d draw for draw until the host hands it a kernel; the host
// hands one exactly to the eligible layers of an fp32 CPU run; training with it
// is deterministic and tracks the direct algorithm.
#include <torch/torch.h>

#include "trex/config/train_options.h"
#include "trex/model/inference_graph.h"
#include "trex/model/precision.h"
#include "trex/model/winograd.h"
#include "trex/plugin_kit/conv.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;

namespace {

trex::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k = 3, std::int64_t stride = 1, bool bias = true) {
  return trex::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(bias));
}

/// conv2d's output and gradients (input, weight, bias) for the upstream gradient `dy`.
std::vector<at::Tensor> grads_of(const std::function<at::Tensor(at::Tensor, at::Tensor, at::Tensor)>& f,
                                 const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const at::Tensor& dy) {
  at::Tensor xi = x.detach().requires_grad_(), wi = w.detach().requires_grad_(), bi = b.detach().requires_grad_();
  const at::Tensor y = f(xi, wi, bi);
  y.backward(dy);
  return {y, xi.grad(), wi.grad(), bi.grad()};
}

Precision fp32_cpu(bool winograd) {
  Precision p;
  p.channels_last = true;
  p.winograd = winograd;
  return p;
}

}  // namespace

TEST_CASE("winograd_conv2d_train equals conv2d and its input, weight and bias gradients within rounding",
          "[winograd]") {
  if (!winograd_available()) return;  // test_fused_conv.cpp asserts that this is exactly the CPUs without AVX-512
  torch::manual_seed(5);
  const at::Tensor w = torch::randn({32, 16, 3, 3}) * 0.1, b = torch::randn({32});
  const auto direct = [](at::Tensor x, at::Tensor w, at::Tensor b) { return at::conv2d(x, w, b, 1, 1); };
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    INFO((format == at::MemoryFormat::Contiguous ? "NCHW" : "NHWC"));
    const at::Tensor x = torch::randn({3, 16, 13, 10}).contiguous(format);  // sizes that are no tile multiple
    const at::Tensor dy = torch::randn({3, 32, 13, 10}).contiguous(format);
    const auto want = grads_of(direct, x, w, b, dy);
    const auto got = grads_of(winograd_conv2d_train, x, w, b, dy);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("output, input grad, weight grad, bias grad: " << i);
      REQUIRE(got[i].defined());
      CHECK(relative_difference(got[i], want[i]) <= 1e-4);
      CHECK(got[i].sizes() == want[i].sizes());
    }
    CHECK(relative_difference(got[0], want[0]) > 0);  // another algorithm: it rounds differently
    CHECK(got[0].is_contiguous(format));
    CHECK(got[1].is_contiguous(format));
  }
  SECTION("no bias; an input that needs no gradient gets none") {
    const at::Tensor x = torch::randn({2, 16, 8, 8}), dy = torch::randn({2, 32, 8, 8});
    at::Tensor wi = w.detach().requires_grad_();
    winograd_conv2d_train(x, wi, at::Tensor()).backward(dy);
    at::Tensor wd = w.detach().requires_grad_();
    at::conv2d(x, wd, {}, 1, 1).backward(dy);
    CHECK(relative_difference(wi.grad(), wd.grad()) <= 1e-4);
    CHECK_FALSE(x.grad().defined());
  }
}

TEST_CASE("trex::Conv2d draws torch::nn::Conv2d's initial weights and computes its conv2d until given a kernel",
          "[winograd]") {
  for (const bool bias : {true, false}) {
    torch::manual_seed(11);
    torch::nn::Conv2d theirs(torch::nn::Conv2dOptions(16, 32, 3).padding(1).bias(bias));
    torch::manual_seed(11);
    trex::Conv2d ours = conv(16, 32, 3, 1, bias);
    const auto a = theirs->named_parameters(), b = ours->named_parameters();
    REQUIRE(a.keys() == b.keys());
    for (const auto& key : a.keys()) CHECK(torch::equal(a[key], b[key]));
    const at::Tensor x = torch::randn({2, 16, 9, 9});
    CHECK(torch::equal(theirs->forward(x), ours->forward(x)));
  }
  CHECK_THROWS_WITH(trex::Conv2d(torch::nn::Conv2dOptions(4, 4, 3).padding_mode(torch::kReflect)),
                    Catch::Contains("only zero padding"));
}

TEST_CASE("an fp32 CPU run hands exactly its eligible trex::Conv2d layers to Winograd, and bf16 none", "[winograd]") {
  TrainOptions t;
  t.precision = "fp32";
  CHECK(choose_precision(t, "avx512f avx512_bf16").winograd == winograd_available());
  t.winograd = false;
  CHECK_FALSE(choose_precision(t, "avx512f avx512_bf16").winograd);
  t.winograd = true;
  t.precision = "bf16";
  CHECK_FALSE(choose_precision(t, "avx512f avx512_bf16").winograd);
  t.precision = "auto";
  CHECK_FALSE(choose_precision(t, "avx512f avx512_bf16").winograd);  // auto takes bf16 there
  CHECK(choose_precision(t, "avx2 fma").winograd == winograd_available());
  if (!winograd_available()) return;

  // Eligible: 64->80 and 80->80 3x3 stride 1. Not: 32 channels, stride 2, 1x1, 72 (no multiple of 16).
  torch::nn::Sequential net(conv(32, 64), conv(64, 80), conv(80, 80), conv(80, 80, 3, 2), conv(80, 80, 1),
                            conv(80, 72));
  fp32_cpu(true).apply_to(*net);
  std::vector<bool> handed;
  for (const auto& m : net->children()) handed.push_back(static_cast<bool>(m->as<trex::Conv2d>()->kernel));
  CHECK(handed == std::vector<bool>{false, true, true, false, false, false});
  const at::Tensor x = in_channels_last(torch::randn({2, 32, 12, 12}));
  const at::Tensor fast = net->forward(x);
  fp32_cpu(false).apply_to(*net);
  for (const auto& m : net->children()) CHECK_FALSE(m->as<trex::Conv2d>()->kernel);
  const at::Tensor plain = net->forward(x);
  CHECK(relative_difference(fast, plain) <= 1e-4);
  CHECK(relative_difference(fast, plain) > 0);  // the kernel did run
  // Under bf16 autocast, and while tracing, the layer computes torch's conv2d, whatever kernel it holds.
  fp32_cpu(true).apply_to(*net);
  const auto traced = trace_module(
      *net, [&](const at::Tensor& in) { return net->forward(in); }, x, "__torch__.wino_train");
  std::size_t convs = 0;
  for (const torch::jit::Node* n : traced.get_method("forward").graph()->nodes())
    convs += n->kind() == c10::Symbol::fromQualString("aten::_convolution") ||
             n->kind() == c10::Symbol::fromQualString("aten::conv2d");
  CHECK(convs == 6);
  Precision bf16{c10::Device(c10::kCPU), true, true};
  const at::Tensor half = bf16.run(x, [&](const at::Tensor& in) { return net->forward(in); });
  CHECK(half.scalar_type() == at::kBFloat16);
}

TEST_CASE("training through Winograd is deterministic and tracks the direct algorithm", "[winograd]") {
  if (!winograd_available()) return;
  const auto train = [](bool winograd) {
    torch::manual_seed(21);
    torch::nn::Sequential net(conv(64, 64), torch::nn::Functional(torch::relu), conv(64, 64),
                              torch::nn::Functional([](const at::Tensor& t) {
                                return t.mean({2, 3});
                              }),
                              torch::nn::Linear(64, 4));
    fp32_cpu(winograd).apply_to(*net);
    torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    const at::Tensor x = in_channels_last(torch::randn({16, 64, 10, 10})), y = torch::randint(0, 4, {16});
    double loss = 0;
    for (int step = 0; step < 8; ++step) {
      sgd.zero_grad();
      const at::Tensor l = torch::cross_entropy_loss(net->forward(x), y);
      l.backward();
      sgd.step();
      loss = l.item<double>();
    }
    return std::make_pair(loss, torch::cat({net->parameters()[0].flatten(), net->parameters()[2].flatten()}));
  };
  const auto [wino_loss, wino_weights] = train(true);
  const auto [again_loss, again_weights] = train(true);
  const auto [direct_loss, direct_weights] = train(false);
  CHECK(wino_loss == again_loss);
  CHECK(torch::equal(wino_weights, again_weights));
  CHECK(std::abs(wino_loss - direct_loss) <= 1e-3 * std::abs(direct_loss));
  CHECK(relative_difference(wino_weights, direct_weights) <= 1e-3);
  CHECK_FALSE(torch::equal(wino_weights, direct_weights));  // Winograd did train them
}
