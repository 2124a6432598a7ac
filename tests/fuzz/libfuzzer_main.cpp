// libFuzzer's entry for one target, chosen at build time (TREX_FUZZ_NAME).
// Oracle violations and unexpected exceptions abort, so libFuzzer saves the input.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const trex::fuzz::Target target = trex::fuzz::targets().at(TREX_FUZZ_NAME);
  try {
    target(data, size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz target %s: %s\n", TREX_FUZZ_NAME, e.what());
    std::abort();
  }
  return 0;
}
