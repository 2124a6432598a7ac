// train.precision: auto takes bf16 autocast only where the CPU runs bf16
// natively; bf16: true stays an alias of precision: bf16; channels_last is its
// own switch, on by default. On train.device: cuda the same switch maps to
// the GPU's autocast.
#include <ATen/autocast_mode.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "helpers.h"
#include "trex/config/train_options.h"
#include "trex/model/precision.h"
#include "trex/model/winograd.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;

TEST_CASE("precision auto follows the CPU's native bf16, and fp32, bf16 and the bf16 alias go as asked", "[spec]") {
  const std::string avx2 = " fpu sse2 avx2 fma", zen4 = " avx2 avx512f avx512_bf16", spr = " avx512f amx_bf16 amx_tile";
  TrainOptions t;
  t.precision = "auto";
  std::string why;
  for (const auto& flags : {zen4, spr}) {
    const Precision p = choose_precision(t, flags, &why);
    CHECK(p.bf16);
    CHECK(p.channels_last);
    CHECK(p.describe() == "bf16 autocast, channels_last");
    CHECK(why.find("natively") != std::string::npos);
  }
  const Precision slow = choose_precision(t, avx2, &why);
  CHECK_FALSE(slow.bf16);
  CHECK(slow.channels_last);                     // the default, measured faster in fp32 too
  CHECK(slow.winograd == winograd_available());  // fp32 Winograd: this machine's AVX-512, not the flags given
  CHECK(slow.describe() == std::string("fp32, channels_last") + (slow.winograd ? ", Winograd 3x3" : ""));
  CHECK(why.find("no native bf16") != std::string::npos);
  // avx512_bf16 must be a whole flag, not part of another name.
  CHECK_FALSE(choose_precision(t, " avx512_bf16x", nullptr).bf16);
  t.precision = "fp32";
  CHECK_FALSE(choose_precision(t, zen4).bf16);
  t.precision = "bf16";
  CHECK(choose_precision(t, avx2).bf16);  // asked for, even where it is emulated
  t.precision = "fp32";
  t.bf16 = true;
  CHECK(choose_precision(t, avx2).bf16);  // the alias
  t = TrainOptions();
  t.channels_last = false;  // NCHW when asked, whatever auto chose
  CHECK_FALSE(choose_precision(t, avx2).channels_last);
  CHECK_FALSE(choose_precision(t, zen4).channels_last);
  CHECK(choose_precision(t, zen4).describe() == "bf16 autocast");
}

TEST_CASE("on train.device cuda, precision auto follows the GPU's bf16 and maps to the GPU's autocast", "[spec]") {
  const std::string zen4 = " avx2 avx512f avx512_bf16", avx2 = " avx2 fma";
  TrainOptions t;
  t.device = "cuda";
  std::string why;
  const Precision ampere = choose_precision(t, avx2, &why, true);
  CHECK(ampere.device.is_cuda());
  CHECK(ampere.bf16);
  CHECK(ampere.describe() == "bf16 autocast, channels_last on cuda");
  CHECK(why.find("GPU runs bf16 natively") != std::string::npos);
  const Precision turing = choose_precision(t, zen4, &why, false);  // the CPU's flags do not count on a GPU
  CHECK(turing.device.is_cuda());
  CHECK_FALSE(turing.bf16);
  CHECK(why.find("GPU has no native bf16") != std::string::npos);
  t.precision = "bf16";
  CHECK(choose_precision(t, avx2, nullptr, false).bf16);  // asked for
  t.device = "cpu";
  t.precision = "auto";
  CHECK(choose_precision(t, zen4, nullptr, true).device.is_cpu());
  CHECK_FALSE(choose_precision(t, avx2, nullptr, true).bf16);  // a GPU's bf16 does not count on the CPU

  // The switches themselves: CUDA's autocast and the CPU's are separate thread-local flags, settable
  // without a GPU. A GPU precision turns on CUDA's (to bf16) and leaves the CPU's alone, and back.
  REQUIRE_FALSE(at::autocast::is_enabled());
  REQUIRE_FALSE(at::autocast::is_cpu_enabled());
  ampere.set_autocast(true);
  CHECK(at::autocast::is_enabled());
  CHECK(at::autocast::get_autocast_gpu_dtype() == at::kBFloat16);
  CHECK_FALSE(at::autocast::is_cpu_enabled());
  ampere.set_autocast(false);
  CHECK_FALSE(at::autocast::is_enabled());
  const Precision cpu = choose_precision(t, zen4);
  cpu.run(torch::ones({2, 3}), [](const at::Tensor& x) {
    CHECK(at::autocast::is_cpu_enabled());
    CHECK_FALSE(at::autocast::is_enabled());
    return x;
  });
  CHECK_FALSE(at::autocast::is_cpu_enabled());
}

TEST_CASE("channels_last gives a grayscale net's first conv channels-last strides, so oneDNN runs it channels-last",
          "[spec]") {
  // A tensor with one channel counts as channels-last contiguous with NCHW strides: contiguous(ChannelsLast)
  // leaves it as it is, and oneDNN, reading the strides, ran the stem conv (and the BN and ReLU after it)
  // in NCHW, and the first residual sum on mixed layouts (5% of fast.yaml's epoch).
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1)));
  const at::Tensor weight = net->parameters()[0];
  REQUIRE(weight.is_contiguous(at::MemoryFormat::ChannelsLast));  // the trap: true already, with NCHW strides
  const at::Tensor before = weight.detach().clone();
  Precision p;
  p.channels_last = true;
  p.apply_to(*net);
  for (const auto& w : {net->parameters()[0], net->parameters()[2]}) {
    CHECK(w.strides() == c10::IntArrayRef(c10::get_channels_last_strides_2d(w.sizes())));
    CHECK(w.suggest_memory_format() == at::MemoryFormat::ChannelsLast);
  }
  CHECK(torch::equal(net->parameters()[0], before));  // the values are untouched
  const at::Tensor gray = torch::rand({4, 1, 6, 6});
  p.run(gray, [&](const at::Tensor& x) {
    CHECK(x.strides() == c10::IntArrayRef(c10::get_channels_last_strides_2d(x.sizes())));
    CHECK(torch::equal(x, gray));
    const at::Tensor stem = net->ptr(0)->as<torch::nn::Conv2d>()->forward(x);
    CHECK(stem.suggest_memory_format() == at::MemoryFormat::ChannelsLast);
    return stem;
  });
  const at::Tensor cl = in_channels_last(torch::rand({2, 3, 4, 4}).contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(in_channels_last(cl).data_ptr() == cl.data_ptr());  // already channels-last: no copy

  p.channels_last = false;  // and back: NCHW strides
  p.apply_to(*net);
  CHECK(net->parameters()[2].is_contiguous());
}
