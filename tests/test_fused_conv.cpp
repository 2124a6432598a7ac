// Frozen backbones' fused convolutions (model/fused_conv.h): the op equals
// conv2d, its residual add and its ReLU within rounding, for every geometry,
// layout and type it takes; a frozen graph's convolutions become it with the
// add and ReLU after each folded in, never past a write to their input; and a
// packed weight never outlives its graph's weight.
#include <torch/script.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/model/fused_conv.h"
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

std::size_t convs(const torch::jit::Module& m) { return count(m, "aten::conv2d") + count(m, "aten::_convolution"); }

/// What the op computes, by LibTorch's own ops.
at::Tensor reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, std::vector<std::int64_t> stride,
                     std::vector<std::int64_t> padding, std::vector<std::int64_t> dilation, const at::Tensor& r,
                     bool relu) {
  at::Tensor y = at::conv2d(x, w, b, stride, padding, dilation);
  if (r.defined()) y = y + r;
  return relu ? at::relu(y) : y;
}

}  // namespace

TEST_CASE("Winograd is there exactly where the CPU has AVX-512", "[inference_graph][fused_conv]") {
  REQUIRE(winograd_available() == cpu_has_avx512_core());
}

TEST_CASE("a fused convolution equals conv2d, its residual add and its ReLU within rounding",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  struct Geometry {
    std::int64_t in, out, kernel;
    std::vector<std::int64_t> stride, padding, dilation;
    bool winograd;
  };
  // Sizes that are no tile multiple; 1x1, 7x7 stride 2, 1x7, dilated, odd strides.
  const std::vector<Geometry> geometries{{16, 32, 3, {1, 1}, {1, 1}, {1, 1}, true},
                                         {16, 32, 3, {1, 1}, {1, 1}, {1, 1}, false},
                                         {24, 40, 1, {1, 1}, {0, 0}, {1, 1}, false},
                                         {3, 16, 7, {2, 2}, {3, 3}, {1, 1}, false},
                                         {16, 8, 3, {2, 1}, {0, 2}, {2, 1}, false}};
  for (const auto& g : geometries)
    for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast})
      for (const bool with_bias : {true, false})
        for (const bool with_residual : {true, false})
          for (const bool relu : {true, false}) {
            const at::Tensor x = torch::randn({5, g.in, 13, 11}).contiguous(format);
            const at::Tensor w = torch::randn({g.out, g.in, g.kernel, g.kernel}) * 0.1;
            const at::Tensor b = with_bias ? torch::randn({g.out}) : at::Tensor();
            const at::Tensor plain = at::conv2d(x, w, b, g.stride, g.padding, g.dilation);
            const at::Tensor r = with_residual ? torch::randn_like(plain) : at::Tensor();
            INFO(g.in << "->" << g.out << " k" << g.kernel << " stride " << g.stride << " padding " << g.padding
                      << " dilation " << g.dilation << (g.winograd ? " Winograd" : " direct")
                      << (format == at::MemoryFormat::Contiguous ? " NCHW" : " NHWC") << " bias " << with_bias
                      << " residual " << with_residual << " relu " << relu);
            const at::Tensor want = reference(x, w, b, g.stride, g.padding, g.dilation, r, relu);
            const at::Tensor got = fused_conv2d(x, w, b, g.stride, g.padding, g.dilation, g.winograd, r, relu);
            CHECK(got.sizes() == want.sizes());
            CHECK(relative_difference(got, want) <= 1e-4);
            CHECK(got.is_contiguous(format));
            if (g.winograd && winograd_available())
              CHECK(relative_difference(got, want) > 0);  // another algorithm: it rounds differently
          }
  // Winograd runs 16 images a call, each image where it belongs: 37 in three parts, the last of 5 images
  // by a primitive of its own; 28 and 12 with a last part of 12 run by the 16-image primitive, padded.
  const at::Tensor many_w = torch::randn({32, 16, 3, 3}) * 0.1, many_b = torch::randn({32});
  for (const std::int64_t n : {37, 28, 12}) {
    INFO(n << " images");
    const at::Tensor many = torch::randn({n, 16, 9, 10}).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor many_r = torch::randn({n, 32, 9, 10}).contiguous(at::MemoryFormat::ChannelsLast);
    CHECK(relative_difference(fused_conv2d(many, many_w, many_b, {1, 1}, {1, 1}, {1, 1}, true, many_r, true),
                              reference(many, many_w, many_b, {1, 1}, {1, 1}, {1, 1}, many_r, true)) <= 1e-4);
  }
  // bf16: rounds like LibTorch's bf16 convolution, to a bf16 result.
  const at::Tensor x = torch::randn({4, 32, 12, 12}).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor w = (torch::randn({48, 32, 3, 3}) * 0.1).to(at::kBFloat16);
  const at::Tensor b = torch::randn({48}).to(at::kBFloat16), r = torch::randn({4, 48, 12, 12}).to(at::kBFloat16);
  const at::Tensor got = fused_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, true, r, true);
  CHECK(got.scalar_type() == at::kBFloat16);
  CHECK(relative_difference(got, reference(x.to(at::kFloat), w.to(at::kFloat), b.to(at::kFloat), {1, 1}, {1, 1}, {1, 1},
                                           r.to(at::kFloat), true)) <= 2e-2);
  // bf16 Winograd: in fp32, the activations converted on the way in and out, only where that pays (256
  // channels at 28 px): it rounds unlike the direct kernel there, and is the direct kernel at 12 px above.
  const at::Tensor big = torch::randn({1, 256, 28, 28}).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor big_w = (torch::randn({256, 256, 3, 3}) * 0.02).to(at::kBFloat16);
  const at::Tensor big_b = torch::randn({256}).to(at::kBFloat16),
                   big_r = torch::randn({1, 256, 28, 28}).to(at::kBFloat16);
  const at::Tensor wino = fused_conv2d(big, big_w, big_b, {1, 1}, {1, 1}, {1, 1}, true, big_r, true);
  const at::Tensor direct = fused_conv2d(big, big_w, big_b, {1, 1}, {1, 1}, {1, 1}, false, big_r, true);
  CHECK(wino.scalar_type() == at::kBFloat16);
  CHECK(wino.is_contiguous(at::MemoryFormat::ChannelsLast));
  const at::Tensor exact = reference(big.to(at::kFloat), big_w.to(at::kFloat), big_b.to(at::kFloat), {1, 1}, {1, 1},
                                     {1, 1}, big_r.to(at::kFloat), true);
  CHECK(relative_difference(wino, exact) <= 1e-2);
  CHECK(relative_difference(direct, exact) <= 1e-2);
  CHECK((relative_difference(wino, direct) > 0) == winograd_available());
  CHECK(at::equal(fused_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, true, r, true),
                  fused_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, false, r, true)));
  // A residual of other sizes is an error, not a broadcast; so is a geometry conv2d would refuse (the op is
  // callable from any TorchScript: a stride of 0 must not divide by zero).
  CHECK_THROWS(fused_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, false, r.narrow(2, 0, 6), true));
  CHECK_THROWS(fused_conv2d(x, w, b, {0, 1}, {1, 1}, {1, 1}, false, c10::nullopt, true));
  CHECK_THROWS(fused_conv2d(x, w, b, {1, 1}, {-1, 1}, {1, 1}, false, c10::nullopt, true));
  CHECK_THROWS(fused_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 0}, false, c10::nullopt, true));
  CHECK_THROWS(fused_conv2d(x, w, b, {1, 1, 1}, {1, 1}, {1, 1}, false, c10::nullopt, true));
  // A kernel larger than the padded image: LibTorch's own error, not an empty or garbage result.
  CHECK_THROWS(fused_conv2d(x, (torch::randn({48, 32, 15, 15})).to(at::kBFloat16), b, {1, 1}, {0, 0}, {1, 1}, false,
                            c10::nullopt, false));
}

TEST_CASE("a frozen graph's convolutions run fused with the add and ReLU after them, by Winograd where it fits",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  // Winograd-eligible: 16->32 and 32->32 (3x3, stride 1, padding 1). Not: 3 input channels, stride 2.
  torch::nn::Sequential net(conv(3, 16), torch::nn::Functional(torch::relu), conv(16, 32),
                            torch::nn::Functional(torch::relu), conv(32, 32), conv(32, 32, 2));
  net->eval();
  const auto forward = [&](const at::Tensor& in) { return net->forward(in); };
  const at::Tensor x = torch::randn({4, 3, 20, 20});
  const torch::jit::Module traced = trace_module(*net, forward, x, "__torch__.fused");
  torch::jit::Module frozen = torch::jit::freeze(traced);
  REQUIRE(convs(frozen) == 4);
  REQUIRE(count(frozen, "aten::relu") + count(frozen, "aten::relu_") == 2);
  CHECK(use_fused_convs(frozen) == 4);
  CHECK(count(frozen, "trex::fused_conv2d") == 4);
  CHECK(convs(frozen) == 0);
  CHECK(count(frozen, "aten::relu") + count(frozen, "aten::relu_") == 0);  // both folded
  std::size_t winograd = 0;
  for (const torch::jit::Node* n : frozen.get_method("forward").graph()->nodes())
    if (n->kind() == c10::Symbol::fromQualString("trex::fused_conv2d"))
      winograd += torch::jit::toIValue(n->input(6))->toBool();
  CHECK(winograd == (winograd_available() ? 2 : 0));

  auto variants = graph_variants(traced, x);
  REQUIRE_FALSE(variants.empty());
  CHECK((variants.front().form == "fused") == winograd_available());
  const at::Tensor want = net->forward(x);
  for (auto& v : variants) {
    INFO(v.form);
    CHECK(relative_difference(run_variant(v, x), want) <= 1e-4);
  }
  // The first graph gone, another with other weights (perhaps at the same addresses) gets its own packed weights.
  variants.clear();
  for (auto& p : net->parameters()) p.mul_(-0.5);
  auto again = graph_variants(trace_module(*net, forward, x, "__torch__.fused2"), x);
  CHECK(relative_difference(run_variant(again.front(), x), net->forward(x)) <= 1e-4);
  // Under bf16 autocast: fused in bf16 after oneDNN's blocked layouts, the same convolutions marked for Winograd
  // (which fused_conv2d runs direct at these channel counts, above).
  Precision bf16{c10::Device(c10::kCPU), true, true};
  bf16.set_autocast(true);
  const at::Tensor x_cl = x.contiguous(at::MemoryFormat::ChannelsLast), autocast_want = net->forward(x_cl);
  auto half = graph_variants(traced, x_cl);
  bf16.set_autocast(false);
  REQUIRE(half.size() >= 2);
  CHECK(half[0].form == "bf16 oneDNN");
  CHECK((half[1].form == "bf16 fused") == winograd_available());
  for (auto& v : half) {
    INFO(v.form);
    CHECK(relative_difference(run_variant(v, x_cl), autocast_want) <= kBf16Tolerance);
    std::size_t marked = 0;
    for (const torch::jit::Node* n : v.module.get_method("forward").graph()->nodes())
      if (n->kind() == c10::Symbol::fromQualString("trex::fused_conv2d"))
        marked += torch::jit::toIValue(n->input(6))->toBool();
    CHECK(marked == (v.form == "bf16 fused" ? 2 : 0));
  }
}

namespace {

/// A residual block whose shortcut is computed after the main path's last
/// convolution (as torchvision's Bottleneck computes its downsample), and one
/// whose main path input is written in place between its convolution and the add.
struct Residual : torch::nn::Module {
  torch::nn::Conv2d main{nullptr}, shortcut{nullptr};
  bool write_between;
  explicit Residual(bool write) : write_between(write) {
    main = register_module("main", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 1)));
    shortcut = register_module("shortcut", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 1)));
  }
  at::Tensor forward(at::Tensor x) {
    at::Tensor in = x * 1;
    at::Tensor out = main->forward(in);
    if (write_between) in.mul_(-1);  // the shortcut sees the negated input; the main path must not
    at::Tensor identity = shortcut->forward(in);
    out += identity;
    return torch::relu(out);
  }
};

}  // namespace

TEST_CASE("a convolution moves down to its residual add only where no write to its input lies between",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  for (const bool write : {false, true}) {
    INFO((write ? "a write between" : "no write between"));
    auto block = std::make_shared<Residual>(write);
    block->eval();
    const auto forward = [&](const at::Tensor& in) { return block->forward(in); };
    const at::Tensor x = torch::randn({3, 16, 9, 9}).contiguous(at::MemoryFormat::ChannelsLast);
    torch::jit::Module frozen = torch::jit::freeze(trace_module(*block, forward, x, "__torch__.residual"));
    REQUIRE(convs(frozen) == 2);
    CHECK(use_fused_convs(frozen) == 2);
    const bool added = count(frozen, "aten::add") + count(frozen, "aten::add_") == 0;
    CHECK(added == !write);
    CHECK(relative_difference(frozen.forward({x}).toTensor(), block->forward(x)) <= 1e-5);
  }
}

TEST_CASE("bf16 graphs run fused first where fp32 Winograd pays: 256+ channels at 28+ px",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  CHECK(winograd_pays_in_bf16({64, 256, 56, 56}, {256, 256, 3, 3}));
  CHECK(winograd_pays_in_bf16({1, 512, 28, 28}, {512, 512, 3, 3}));
  CHECK_FALSE(winograd_pays_in_bf16({64, 256, 14, 14}, {256, 256, 3, 3}));  // too small an image
  CHECK_FALSE(winograd_pays_in_bf16({64, 128, 56, 56}, {256, 128, 3, 3}));  // too few input channels
  // A stride-2 stem, then 256 -> 256: at 28 px for a 56 px image, 14 px for a 28 px one.
  torch::nn::Sequential net(conv(16, 256, 2), torch::nn::Functional(torch::relu), conv(256, 256));
  net->eval();
  const auto forward = [&](const at::Tensor& in) { return net->forward(in); };
  for (const std::int64_t px : {56, 28}) {
    INFO(px << " px");
    const at::Tensor x = torch::randn({2, 16, px, px}).contiguous(at::MemoryFormat::ChannelsLast);
    const torch::jit::Module traced = trace_module(*net, forward, x, "__torch__.bf16_winograd");
    const torch::jit::Module frozen = torch::jit::freeze(traced);
    // As the trace recorded them, and by shape analysis (the frozen graph's types carry no sizes).
    for (const auto* sized : {&traced, &frozen}) {
      const ConvSizes sizes = conv_sizes(*sized, frozen, x);
      CHECK(sizes.bf16_winograd == (px == 56 ? 1 : 0));
      CHECK(sizes.largest_output == 256 * (px / 2) * (px / 2));
    }
    Precision bf16{c10::Device(c10::kCPU), true, true};
    bf16.set_autocast(true);
    const at::Tensor want = net->forward(x);
    auto variants = graph_variants(traced, x);
    bf16.set_autocast(false);
    REQUIRE_FALSE(variants.empty());
    CHECK(variants.front().form == (px == 56 && winograd_available() ? "bf16 fused" : "bf16 oneDNN"));
    for (auto& v : variants) {
      INFO(v.form);
      CHECK(relative_difference(run_variant(v, x), want) <= kBf16Tolerance);
    }
  }
}

TEST_CASE("bf16 graphs that concatenate run fused first, oneDNN's blocked layouts a fallback after it",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(8);
  torch::NoGradGuard no_grad;
  torch::nn::Sequential net(conv(16, 32), conv(16, 16));  // two branches of one input, as InceptionV3's blocks
  net->eval();
  const auto forward = [&](const at::Tensor& in) {
    return torch::cat({net[0]->as<torch::nn::Conv2d>()->forward(in), net[1]->as<torch::nn::Conv2d>()->forward(in)}, 1)
        .relu();
  };
  const at::Tensor x = torch::randn({2, 16, 12, 12}).contiguous(at::MemoryFormat::ChannelsLast);
  const torch::jit::Module traced = trace_module(*net, forward, x, "__torch__.concatenating");
  Precision bf16{c10::Device(c10::kCPU), true, true};
  bf16.set_autocast(true);
  const at::Tensor want = forward(x);
  auto variants = graph_variants(traced, x);
  bf16.set_autocast(false);
  REQUIRE(variants.size() >= 2);
  CHECK(variants[0].form == (winograd_available() ? "bf16 fused" : "bf16 oneDNN"));
  for (auto& v : variants) {
    INFO(v.form);
    CHECK(v.fallback == (v.form == "bf16 oneDNN"));  // converted back around the concatenation
    CHECK(relative_difference(run_variant(v, x), want) <= kBf16Tolerance);
  }
}

TEST_CASE("a fused graph with a large output an image runs in 16-image calls, the same as whole",
          "[inference_graph][fused_conv]") {
  torch::manual_seed(6);
  torch::NoGradGuard no_grad;
  // 64 channels at 180 px: 2.07M elements an image, past kChunkedOutput; at 96 px 0.59M.
  torch::nn::Sequential net(conv(3, 64), torch::nn::Functional(torch::relu), conv(64, 16, 2));
  net->eval();
  const auto forward = [&](const at::Tensor& in) { return net->forward(in); };
  for (const std::int64_t px : {180, 96}) {
    INFO(px << " px");
    const at::Tensor two = torch::randn({2, 3, px, px}).contiguous(at::MemoryFormat::ChannelsLast);
    auto variants = graph_variants(trace_module(*net, forward, two, "__torch__.chunked"), two);
    REQUIRE_FALSE(variants.empty());
    GraphVariant& v = variants.front();
    if (!winograd_available()) {  // no fused graphs without AVX-512: none of them runs in parts
      CHECK(v.form != "fused");
      CHECK(v.chunk == 0);
      continue;
    }
    REQUIRE(v.form == "fused");
    CHECK(v.chunk == (px == 180 ? kChunkImages : 0));
  }
  const at::Tensor x = torch::randn({5, 3, 40, 40}).contiguous(at::MemoryFormat::ChannelsLast);
  auto variants = graph_variants(trace_module(*net, forward, x.narrow(0, 0, 2), "__torch__.chunked"), x);
  GraphVariant& v = variants.front();  // whichever the CPU runs first: any variant can run in parts
  v.chunk = 0;
  const at::Tensor whole = run_variant(v, x);
  v.chunk = 2;  // calls of 2, 2 and 1 images
  const at::Tensor parts = run_variant(v, x);
  CHECK(parts.sizes() == whole.sizes());
  CHECK(parts.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(relative_difference(parts, whole) <= 1e-6);
  CHECK(relative_difference(parts, net->forward(x)) <= kFp32Tolerance);
}
