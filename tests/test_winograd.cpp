// Winograd convolutions for frozen fp32 backbones (model/winograd.h): the op
// equals conv2d (+ ReLU) within rounding, a frozen graph's eligible 3x3
// convolutions become it and the others stay, and a packed weight never
// outlives its graph's weight.
#include <torch/script.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/model/graph_variants.h"
#include "trex/model/inference_graph.h"
#include "trex/model/precision.h"
#include "trex/model/winograd.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

namespace {

/// oneDNN's Winograd kernels need AVX-512 (its avx512_core: F, BW, VL and DQ).
bool cpu_has_avx512_core() {
  const std::string flags = cpu_flags();
  for (const char* f : {"avx512f", "avx512bw", "avx512vl", "avx512dq"})
    if (!has_flag(flags, f)) return false;
  return true;
}

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

std::size_t count(const torch::jit::Module& m, const char* kind) {
  std::size_t n = 0;
  for (const torch::jit::Node* node : m.get_method("forward").graph()->nodes())
    n += node->kind() == c10::Symbol::fromQualString(kind);
  return n;
}

}  // namespace

TEST_CASE("Winograd is there exactly where the CPU has AVX-512, and equals conv2d and its ReLU within rounding",
          "[inference_graph][winograd]") {
  REQUIRE(winograd_available() == cpu_has_avx512_core());
  if (!winograd_available()) return;  // asserted above: this CPU cannot run it, and graphs do not offer it
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  const at::Tensor w = torch::randn({32, 16, 3, 3}) * 0.1, b = torch::randn({32});
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const at::Tensor x = torch::randn({5, 16, 13, 11}).contiguous(format);  // sizes that are no tile multiple
    const at::Tensor plain = at::conv2d(x, w, b, 1, 1);
    INFO((format == at::MemoryFormat::Contiguous ? "NCHW" : "NHWC"));
    const at::Tensor y = winograd_conv2d(x, w, b, false);
    CHECK(relative_difference(y, plain) <= 1e-4);
    CHECK(relative_difference(y, plain) > 0);  // another algorithm: it rounds differently
    CHECK(y.is_contiguous(format));
    CHECK(relative_difference(winograd_conv2d(x, w, b, true), at::relu(plain)) <= 1e-4);
    CHECK(relative_difference(winograd_conv2d(x, w, c10::nullopt, false), at::conv2d(x, w, {}, 1, 1)) <= 1e-4);
  }
}

TEST_CASE("a frozen fp32 graph's 3x3 stride-1 convolutions run as Winograd, ReLU folded in; the others as before",
          "[inference_graph][winograd]") {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  // Eligible: 16->32 and 32->32 (3x3, stride 1, padding 1). Not: 3 input channels, stride 2.
  torch::nn::Sequential net(conv(3, 16), torch::nn::Functional(torch::relu), conv(16, 32),
                            torch::nn::Functional(torch::relu), conv(32, 32), conv(32, 32, 2));
  net->eval();
  const auto forward = [&](const at::Tensor& in) { return net->forward(in); };
  const at::Tensor x = torch::randn({4, 3, 20, 20});
  const torch::jit::Module traced = trace_module(*net, forward, x, "__torch__.wino");
  torch::jit::Module frozen = torch::jit::freeze(traced);
  const std::size_t convs = count(frozen, "aten::conv2d") + count(frozen, "aten::_convolution");
  REQUIRE(convs == 4);
  const std::size_t relus = count(frozen, "aten::relu") + count(frozen, "aten::relu_");
  REQUIRE(relus == 2);
  const std::size_t rewritten = use_winograd(frozen);
  CHECK(rewritten == 2);
  CHECK(count(frozen, "trex::winograd_conv2d") == 2);
  CHECK(count(frozen, "aten::relu") + count(frozen, "aten::relu_") == 1);  // the 16->32 conv's, folded
  CHECK(count(frozen, "aten::conv2d") + count(frozen, "aten::_convolution") == 2);

  auto variants = graph_variants(traced, x);
  REQUIRE_FALSE(variants.empty());
  CHECK((variants.front().form == "Winograd") == winograd_available());
  const at::Tensor want = net->forward(x);
  for (auto& v : variants) {
    INFO(v.form);
    CHECK(relative_difference(run_variant(v, x), want) <= 1e-4);
  }
  // The first graph gone, another with other weights (perhaps at the same addresses) gets its own packed weights.
  variants.clear();
  for (auto& p : net->parameters()) p.mul_(-0.5);
  auto again = graph_variants(trace_module(*net, forward, x, "__torch__.wino2"), x);
  CHECK(relative_difference(run_variant(again.front(), x), net->forward(x)) <= 1e-4);
  // Under bf16 autocast: no Winograd (oneDNN has it for fp32 only).
  Precision bf16{c10::Device(c10::kCPU), true, true};
  bf16.set_autocast(true);
  const auto half = graph_variants(traced, x.contiguous(at::MemoryFormat::ChannelsLast));
  bf16.set_autocast(false);
  for (const auto& v : half) CHECK(v.form.find("Winograd") == std::string::npos);
}
