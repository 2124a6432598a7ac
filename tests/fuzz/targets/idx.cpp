// The IDX reader on any bytes, as rank-1 labels and rank-3 images, with a
// 64 MiB limit. Oracle: what it returns holds exactly the bytes the header states.
#include <cstring>

#include "../fuzz_target.h"
#include "datasets/idx/idx_format.h"

TREX_FUZZ_TARGET(idx) {
  for (std::size_t rank : {1, 3}) {
    std::size_t at = 0;
    const trex_idx::ByteReader read = [&](unsigned char* out, std::size_t n) {
      const std::size_t k = std::min(n, size - at);
      if (k) std::memcpy(out, data + at, k);
      at += k;
      return k;
    };
    try {
      const trex_idx::IdxArray a = trex_idx::read_idx(read, "fuzz", rank, 64 << 20);
      std::uint64_t count = 1;
      for (auto d : a.dims) count *= d;
      if (a.dims.size() != rank || a.data.size() != count)
        trex::fuzz::violated("an array that does not match its header");
    } catch (const std::runtime_error&) {}
  }
}
