#pragma once
// A pickle walker for files other people made (.pth weights, checkpoints):
// every opcode of protocols 0-5 known by name, every length checked against
// the input, and a dry run of the pickle machine that bounds what LibTorch's
// unpickler would build from it — nesting depth, memo indices, shared and
// self-referencing containers — before LibTorch reads a byte of it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trex {

/// The largest pickle program walked (a state dict's structure, not its tensors: ~100 KB for ResNet-152).
constexpr std::size_t kMaxPickleBytes = std::size_t{64} << 20;
/// The deepest nesting of containers a checked pickle may build.
constexpr int kMaxPickleDepth = 64;

/// Length of the opcode at `at` with its argument. Knows every opcode of
/// protocols 0-5; an unknown opcode, or a length past the end of the input,
/// is an error naming the opcode and the byte.
std::size_t opcode_length(const std::string& pickle, std::size_t at);
/// The opcode's name in Python's pickletools ("BINUNICODE"), or nullptr.
const char* opcode_name(unsigned char op);
/// `bytes` (at most 8) little-endian at `at`; throws when they are not all there.
std::uint64_t read_le(const std::string& s, std::size_t at, int bytes);

/// Walks every opcode of `pickle` and runs the pickle machine on abstract
/// values: throws naming the byte and the rule when an opcode is unknown or
/// truncated, the stack or a mark underflows, a memo index is past the slots
/// filled so far, containers nest deeper than kMaxPickleDepth, or a container
/// is referenced while it is still being built or changed after being placed
/// (cycles and shared mutable structure, which state dicts never use).
void check_pickle(const std::string& pickle);

}  // namespace trex
