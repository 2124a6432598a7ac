#include "trex/train/batch_mix.h"

#include <cmath>

#include <ATen/ATen.h>

namespace trex {
namespace {

double beta(double alpha, Rng& rng) {
  std::gamma_distribution<double> g(alpha, 1.0);
  const double x = g(rng), y = g(rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

}  // namespace

MixedBatch mix_batch(const at::Tensor& images, const at::Tensor& targets, const MixOptions& o, Rng& rng) {
  MixedBatch out{images, targets, targets, 1.0, "none"};
  if (!o.enabled() || images.size(0) < 2) return out;
  std::uniform_real_distribution<double> u(0, 1);
  if (u(rng) >= o.prob) return out;
  const bool cutmix = o.cutmix_alpha > 0 && (o.mixup_alpha <= 0 || u(rng) < o.switch_prob);
  const double lambda = beta(cutmix ? o.cutmix_alpha : o.mixup_alpha, rng);
  const at::Tensor partner = images.flip(0);
  out.targets_b = targets.flip(0);
  if (!cutmix) {
    out.images = images * lambda + partner * (1 - lambda);
    out.lambda = lambda;
    out.kind = "mixup";
    return out;
  }
  // A box of area (1 - lambda) at a uniform centre, clipped; lambda is then the share actually kept.
  const std::int64_t h = images.size(2), w = images.size(3);
  const double cut = std::sqrt(1 - lambda);
  const auto ch = static_cast<std::int64_t>(static_cast<double>(h) * cut),
             cw = static_cast<std::int64_t>(static_cast<double>(w) * cut);
  const auto cy = std::uniform_int_distribution<std::int64_t>(0, h - 1)(rng);
  const auto cx = std::uniform_int_distribution<std::int64_t>(0, w - 1)(rng);
  const std::int64_t y0 = std::clamp<std::int64_t>(cy - ch / 2, 0, h), y1 = std::clamp<std::int64_t>(cy + ch / 2, 0, h);
  const std::int64_t x0 = std::clamp<std::int64_t>(cx - cw / 2, 0, w), x1 = std::clamp<std::int64_t>(cx + cw / 2, 0, w);
  out.images = images.clone();
  if (y1 > y0 && x1 > x0) {
    using at::indexing::Slice;
    out.images.index_put_({Slice(), Slice(), Slice(y0, y1), Slice(x0, x1)},
                          partner.index({Slice(), Slice(), Slice(y0, y1), Slice(x0, x1)}));
  }
  out.lambda = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(h * w);
  out.kind = "cutmix";
  return out;
}

}  // namespace trex
