#pragma once
// Seeds for every random stream of a run, derived from the spec's seed and
// the stream's coordinates (epoch, sample, purpose), so results depend on
// neither the thread count nor where a run was resumed.
#include <cstdint>

namespace trex {

/// A stream id from several numbers (splitmix64 mixing).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0);

}  // namespace trex
