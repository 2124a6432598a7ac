// mixup / cutmix on a batch: the mix, lambda, determinism, and a run that uses them.
#include <ATen/ATen.h>

#include "helpers.h"
#include "trex/train/batch_mix.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

TEST_CASE("mixup blends each image with its partner and cutmix pastes a box of the stated area", "[augment][mix]") {
  const at::Tensor x = at::arange(4 * 1 * 8 * 8, at::kFloat).reshape({4, 1, 8, 8});
  const at::Tensor y = at::arange(4, at::kLong);
  MixOptions mixup;
  mixup.mixup_alpha = 0.4;
  Rng r1(5), r2(5);
  const MixedBatch m = mix_batch(x, y, mixup, r1);
  CHECK(m.kind == "mixup");
  CHECK((m.lambda > 0 && m.lambda < 1));
  CHECK(at::allclose(m.images, x * m.lambda + x.flip(0) * (1 - m.lambda)));
  CHECK(at::equal(m.targets_b, y.flip(0)));
  CHECK(at::equal(mix_batch(x, y, mixup, r2).images, m.images));  // same RNG, same batch

  MixOptions cutmix;
  cutmix.cutmix_alpha = 1.0;
  for (int seed = 0; seed < 10; ++seed) {
    Rng r(static_cast<std::uint64_t>(seed));
    const MixedBatch c = mix_batch(x, y, cutmix, r);
    CHECK(c.kind == "cutmix");
    // Pixels that came from the partner are exactly (1 - lambda) of the image.
    const double pasted = (c.images[0] != x[0]).sum().item<double>() / 64.0;
    CHECK(pasted == Approx(1 - c.lambda));
  }
  MixOptions off;
  Rng r(1);
  CHECK(mix_batch(x, y, off, r).lambda == 1.0);
  MixOptions never = mixup;
  never.prob = 0;
  CHECK(mix_batch(x, y, never, r).kind == "none");
}

TEST_CASE("a run with train.mixup trains and records a finite loss", "[augment][mix][cli]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             "name: mix\ndata: {type: opencv_digits, per_class_limit: 20, val_fraction: 0.2}\n"
             "model: {type: seed_cnn}\naugment: {train: [rescale], eval: [rescale]}\n"
             "train: {epochs: 2, batch_size: 16, mixup: {mixup_alpha: 0.2, cutmix_alpha: 1.0}}\n");
  auto r = run_command(trex_binary() + " run " + d.file("s.yaml") + " -q --no-report --store " + d.file("s.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto loss = run_command(trex_binary() +
                          " runs --columns last.train_loss,params.train.mixup.cutmix_alpha --format csv --store " +
                          d.file("s.db"));
  CHECK(loss.output.rfind("last.train_loss,params.train.mixup.cutmix_alpha\n", 0) == 0);
  CHECK(loss.output.find(",1\n") != std::string::npos);
}
