#pragma once
// One fuzz target = one function over bytes, registered by name. The same
// function runs under libFuzzer (tools/fuzz.sh, clang, ASan + UBSan, its own
// build folder) and in the ordinary build's Catch2 test that replays every
// committed corpus and regression input (tests/test_fuzz_replay.cpp).
//
// A target catches the errors its input may rightly cause (the clear errors a
// user sees) and calls violated() when an oracle fails; anything else that
// escapes — a crash, a sanitizer report, an unexpected exception, a hang — is
// a finding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace trex::fuzz {

using Target = void (*)(const std::uint8_t* data, std::size_t size);

/// Every target linked into this program, by name.
std::map<std::string, Target>& targets();

struct Registration {
  Registration(const char* name, Target target) { targets()[name] = target; }
};

/// An oracle's property that does not hold for this input.
struct OracleViolation : std::logic_error {
  using std::logic_error::logic_error;
};
[[noreturn]] inline void violated(const std::string& what) { throw OracleViolation(what); }

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace trex::fuzz

#define TREX_FUZZ_TARGET(name)                                                                    \
  static void trex_fuzz_##name(const std::uint8_t* data, std::size_t size);                       \
  static const ::trex::fuzz::Registration trex_fuzz_registration_##name(#name, trex_fuzz_##name); \
  static void trex_fuzz_##name(const std::uint8_t* data, std::size_t size)
