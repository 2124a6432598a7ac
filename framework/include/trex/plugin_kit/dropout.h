#pragma once
// Inverted dropout whose mask is drawn in parallel. LibTorch 1.13 without MKL
// draws torch::dropout's mask with bernoulli_, one element at a time on one
// thread: 6.9 ms for the seed CNN's 128x32x13x13 activations on a 2-core EPYC,
// about 15% of its training step. Here each element's keep/drop is a hash of
// (one 63-bit seed drawn from torch's default generator per call, the
// element's index), so the mask is the same whatever the thread count, and a
// run that restores the generator (resume) draws the same masks again.
#include <cstdint>
#include <ostream>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace trex {
namespace dropout_detail {

/// splitmix64's finaliser: a bijection of 64 bits whose outputs on a counter
/// pass BigCrush (Steele, Lea and Flood, 2014).
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
constexpr std::uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

/// mask[i] = scale where 32 bits of element i's hash are >= threshold, else 0;
/// one 64-bit hash serves elements 2j and 2j + 1.
template <typename T>
void fill_mask(T* mask, std::int64_t n, std::uint64_t seed, std::uint64_t threshold, double scale) {
  const std::uint64_t state = mix(seed);
  at::parallel_for(0, (n + 1) / 2, 1 << 13, [&](std::int64_t begin, std::int64_t end) {
    // A table lookup, not a branch: a 20% drop mispredicts every few elements
    // (5 ns a hash with the branch, measured).
    const T value[2] = {static_cast<T>(0.f), static_cast<T>(scale)};
    for (std::int64_t j = begin; j < end; ++j) {
      const std::uint64_t h = mix(state + static_cast<std::uint64_t>(j + 1) * kGamma);
      mask[2 * j] = value[(h >> 32) >= threshold];
      if (2 * j + 1 < n) mask[2 * j + 1] = value[(h & 0xFFFFFFFFULL) >= threshold];
    }
  });
}

/// torch::dropout's check and message, for the function and the module alike.
inline void check_probability(double p) {
  TORCH_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got ", p);
}

}  // namespace dropout_detail

/// The dropout mask for `x`: a tensor like it (dtype, memory format) holding
/// 0 with probability p and 1 / (1 - p) otherwise.
inline torch::Tensor dropout_mask(const torch::Tensor& x, double p) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout mask: probability must be in [0, 1), got ", p);
  TORCH_CHECK(x.is_floating_point() && x.device().is_cpu(), "dropout mask: a floating CPU tensor, got ", x.toString());
  const auto seed = static_cast<std::uint64_t>(torch::empty({}, torch::kLong).random_().item<std::int64_t>());
  // P(keep) = 1 - threshold / 2^32, within 2^-32 of 1 - p.
  const auto threshold = static_cast<std::uint64_t>(p * 4294967296.0);
  torch::Tensor mask = torch::empty_like(x);  // dense: x's layout where x is dense, else contiguous
  TORCH_INTERNAL_ASSERT(mask.is_non_overlapping_and_dense());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "trex::dropout_mask", [&] {
    dropout_detail::fill_mask(mask.data_ptr<scalar_t>(), mask.numel(), seed, threshold, 1.0 / (1.0 - p));
  });
  return mask;
}

/// torch::dropout's semantics (inverted dropout; identity when not training
/// or p = 0; zeros when p = 1), with the mask from dropout_mask.
inline torch::Tensor dropout(const torch::Tensor& x, double p, bool training) {
  dropout_detail::check_probability(p);
  if (!training || p == 0 || x.numel() == 0) return x;
  if (p == 1) return x * 0;
  return x * dropout_mask(x, p);
}

/// torch::nn::Dropout with trex::dropout; no parameters or buffers, so state
/// dicts are unchanged.
class DropoutImpl : public torch::nn::Cloneable<DropoutImpl> {
 public:
  explicit DropoutImpl(double p = 0.5) : p(p) { dropout_detail::check_probability(p); }
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return trex::dropout(x, p, is_training()); }
  void pretty_print(std::ostream& stream) const override { stream << "trex::Dropout(p=" << p << ")"; }

  double p;
};
TORCH_MODULE(Dropout);

}  // namespace trex
