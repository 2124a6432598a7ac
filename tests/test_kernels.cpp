// trex's own kernels against the stock ops they replace.
#include <sstream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "trex/plugin_kit/dropout.h"
#include "trex/plugin_kit/grad_format.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

namespace {

/// Runs fn with `threads` intra-op threads and restores the count.
template <typename Fn>
auto with_threads(int threads, Fn fn) {
  const int before = torch::get_num_threads();
  torch::set_num_threads(threads);
  auto out = fn();
  torch::set_num_threads(before);
  return out;
}

double kept_fraction(const torch::Tensor& mask) { return (mask != 0).to(torch::kDouble).mean().item<double>(); }

}  // namespace

TEST_CASE("trex::dropout computes the stock op's arithmetic on its own mask, forward and backward", "[kernels]") {
  for (const double p : {0.2, 0.3, 0.5}) {
    CAPTURE(p);
    torch::manual_seed(7);
    auto x = torch::randn({64, 32, 13, 13}, torch::requires_grad());
    torch::manual_seed(11);
    const auto mask = trex::dropout_mask(x.detach(), p);
    torch::manual_seed(11);
    auto y = trex::dropout(x, p, true);
    // torch::dropout scales the kept elements by bernoulli's 1 divided in place by (1 - p).
    const auto stock_scale = torch::ones({}).div_(1 - p);
    const auto expected = torch::where(mask != 0, x.detach() * stock_scale, torch::zeros({}));
    CHECK(torch::equal(y.detach(), expected));
    CHECK(torch::equal(std::get<0>(torch::_unique(mask)), torch::stack({torch::zeros({}), stock_scale})));

    const auto g = torch::randn_like(x);
    const auto grad = torch::autograd::grad({y}, {x}, {g})[0];
    CHECK(torch::equal(grad, g * mask));  // the stock op's backward: grad * mask
  }
}

TEST_CASE("trex::dropout's edge cases behave like torch::dropout's", "[kernels]") {
  const auto x = torch::randn({8, 5});
  CHECK(trex::dropout(x, 0.5, false).is_same(x));  // not training: the input itself
  CHECK(trex::dropout(x, 0.0, true).is_same(x));
  CHECK(torch::equal(trex::dropout(x, 1.0, true), torch::zeros_like(x)));
  CHECK(trex::dropout(torch::empty({0, 3}), 0.5, true).numel() == 0);
  CHECK_THROWS_WITH(trex::dropout(x, 1.5, true), Catch::Contains("between 0 and 1"));
  CHECK_THROWS_WITH(trex::Dropout(-0.1), Catch::Contains("between 0 and 1"));
  CHECK_THROWS_WITH(trex::dropout_mask(torch::ones({3}, torch::kLong), 0.5), Catch::Contains("floating"));

  trex::Dropout module(0.25);
  module->eval();
  CHECK(module->forward(x).is_same(x));
  std::ostringstream printed;
  module->pretty_print(printed);
  CHECK(printed.str() == "trex::Dropout(p=0.25)");
  CHECK(module->parameters().empty());
  CHECK(module->buffers().empty());
}

TEST_CASE("trex::dropout's mask keeps 1 - p of the elements, independently, and follows the generator", "[kernels]") {
  const auto x = torch::zeros({1 << 20});
  for (const double p : {0.1, 0.5, 0.9}) {
    CAPTURE(p);
    const auto mask = trex::dropout_mask(x, p);
    // 2^20 draws: the binomial's standard deviation is under 5e-4, so 5e-3 is ten of them.
    CHECK(kept_fraction(mask) == Approx(1 - p).margin(5e-3));
    // Neighbours share a 64-bit hash (its two halves): they must still be independent.
    const auto kept = (mask != 0).view({-1, 2}).to(torch::kDouble);
    CHECK((kept.select(1, 0) * kept.select(1, 1)).mean().item<double>() == Approx((1 - p) * (1 - p)).margin(5e-3));
    // Distant elements too (an odd stride crosses hash pairs).
    const auto a = kept.flatten().slice(0, 0, -1001), b = kept.flatten().slice(0, 1001);
    CHECK((a * b).mean().item<double>() == Approx((1 - p) * (1 - p)).margin(5e-3));
  }
  // Each call draws a new seed from the default generator; re-seeding repeats the masks.
  torch::manual_seed(3);
  const auto first = trex::dropout_mask(x, 0.5), second = trex::dropout_mask(x, 0.5);
  CHECK_FALSE(torch::equal(first, second));
  CHECK(((first != 0) == (second != 0)).to(torch::kDouble).mean().item<double>() == Approx(0.5).margin(5e-3));
  torch::manual_seed(3);
  CHECK(torch::equal(trex::dropout_mask(x, 0.5), first));
}

TEST_CASE("trex::dropout's mask does not depend on the thread count", "[kernels]") {
  const auto x = torch::randn({3, 7, 31, 33});  // odd element count: the last hash serves one element
  const auto draw = [&] {
    torch::manual_seed(5);
    return trex::dropout_mask(x, 0.3);
  };
  const auto one = with_threads(1, draw), two = with_threads(2, draw), four = with_threads(4, draw);
  CHECK(torch::equal(one, two));
  CHECK(torch::equal(one, four));
}

TEST_CASE("trex::dropout keeps the input's dtype and memory format", "[kernels]") {
  const auto x = torch::randn({4, 8, 6, 6}).to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
  torch::manual_seed(9);
  const auto mask = trex::dropout_mask(x, 0.5);
  CHECK(mask.scalar_type() == torch::kBFloat16);
  CHECK(mask.is_contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK(kept_fraction(mask) == Approx(0.5).margin(0.1));
  torch::manual_seed(9);
  const auto y = trex::dropout(x, 0.5, true);
  CHECK(y.scalar_type() == torch::kBFloat16);
  CHECK(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(y, x * mask));
  // A strided view (not dense) gets a contiguous mask of its shape.
  const auto view = torch::randn({6, 10}).slice(1, 0, 10, 2);
  CHECK(trex::dropout_mask(view, 0.5).sizes() == view.sizes());
}

TEST_CASE("keep_grad_format leaves values and gradients alone and turns the gradient to the input's format",
          "[kernels]") {
  const auto cl = torch::MemoryFormat::ChannelsLast;
  torch::manual_seed(3);
  const auto source = torch::randn({4, 8, 6, 6}).contiguous(cl);
  const auto weight = torch::randn({8, 8, 3, 3}).contiguous(cl);
  struct Grads {
    at::Tensor input, residual, pooled;  // x's gradient; those reaching the block input and the pooling input
  };
  // A residual block's input feeds a conv and the identity, and its output is pooled: where the helper goes.
  auto run = [&](bool guarded, bool bf16) {
    Grads g;
    auto x = source.clone().requires_grad_();
    auto block_input = x * 1.0, h = guarded ? trex::keep_grad_format(block_input) : block_input;
    block_input.register_hook([&g](const torch::Tensor& grad) { g.residual = grad; });
    at::autocast::set_cpu_enabled(bf16);
    auto y = torch::relu(torch::conv2d(h, weight, {}, 1, 1) + h);
    y.register_hook([&g](const torch::Tensor& grad) { g.pooled = grad; });  // before the helper's backward
    auto logits = torch::adaptive_avg_pool2d(guarded ? trex::keep_grad_format(y) : y, {1, 1}).flatten(1);
    logits = logits.to(torch::kFloat);
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
    torch::nn::functional::cross_entropy(logits, torch::tensor({0, 3, 5, 7})).backward();
    g.input = x.grad();
    return g;
  };
  for (const bool bf16 : {false, true}) {
    CAPTURE(bf16);
    const Grads plain = run(false, bf16), kept = run(true, bf16);
    // LibTorch 1.13 hands the pooled activation an NCHW gradient: the case the helper exists for.
    CHECK_FALSE(plain.pooled.is_contiguous(cl));
    CHECK(kept.pooled.is_contiguous(cl));
    CHECK(kept.residual.is_contiguous(cl));
    CHECK(torch::allclose(plain.input, kept.input, bf16 ? 1e-2 : 1e-6, bf16 ? 1e-3 : 1e-7));
  }
  // Outside training it is the tensor itself.
  const auto x = torch::randn({2, 3, 4, 4});
  CHECK(trex::keep_grad_format(x).is_same(x));
  torch::NoGradGuard no_grad;
  const auto y = torch::randn({2, 3, 4, 4}, torch::requires_grad());
  CHECK(trex::keep_grad_format(y).is_same(y));
}
