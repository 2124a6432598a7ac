// train.precision: auto takes bf16 autocast only where the CPU runs bf16
// natively; bf16: true stays an alias of precision: bf16; channels_last is its
// own switch, on by default.
#include "helpers.h"
#include "trex/config/train_options.h"
#include "trex/model/precision.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;

TEST_CASE("precision auto follows the CPU's native bf16; fp32, bf16 and the bf16 alias as asked", "[spec]") {
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
  CHECK(slow.channels_last);  // the default, measured faster in fp32 too
  CHECK(slow.describe() == "fp32, channels_last");
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
