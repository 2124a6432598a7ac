#pragma once
// The IDX format (MNIST, Fashion-MNIST): magic 00 00 08 <rank>, <rank>
// big-endian uint32 dimensions, then the unsigned bytes. Read as a stream so
// the header is checked before any data is inflated: a 16 MB gzip whose
// header claims 16 GiB is refused at its first 16 bytes.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trex_idx {

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<unsigned char> data;
};

/// Fills `buffer` with up to `size` bytes and returns how many (0 at the end); throws on a read error.
using ByteReader = std::function<std::size_t(unsigned char* buffer, std::size_t size)>;

/// Reads one IDX array of `expected_rank` dimensions from `read`; `name`
/// prefixes every error. Data over `max_bytes`, or more or fewer bytes than
/// the header says, is an error that says what was expected and found.
/// `available`, when the input's real size is known (it is in memory), lets
/// the data go into one allocation of at most that size.
IdxArray read_idx(const ByteReader& read, const std::string& name, std::size_t expected_rank, std::uint64_t max_bytes,
                  std::uint64_t available = 0);

/// read_idx over a file, gzipped or not.
IdxArray read_idx_file(const std::string& path, std::size_t expected_rank, std::uint64_t max_bytes);

}  // namespace trex_idx
