#pragma once
// Stable FNV-1a hashes: of a text (a resolved spec, a cache key) and of a
// file's bytes (checkpoints, weights files, artifacts).
#include <string>

namespace trex {

/// 16 hex digits.
std::string text_hash(const std::string& text);
/// "fnv1a64:" and 16 hex digits, read in 64 KiB pieces.
std::string file_checksum(const std::string& path);

}  // namespace trex
