#pragma once
// Writes a small CIFAR set in the real binary format, for tests.
#include <string>

#include "helpers.h"

namespace trex::test {

/// CIFAR-10 layout: data_batch_1..5.bin (`per_file` records each), test_batch.bin,
/// batches.meta.txt. Record r of a file: label r % 10, pixels (r + c) for channel c.
inline void write_cifar10(const std::string& dir, int per_file = 20) {
  std::string names;
  for (const char* n : {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"})
    names += std::string(n) + "\n";
  write_file(dir + "/batches.meta.txt", names);
  auto file = [&](const std::string& name) {
    std::string bytes;
    for (int r = 0; r < per_file; ++r) {
      bytes += static_cast<char>(r % 10);
      for (int c = 0; c < 3; ++c) bytes += std::string(1024, static_cast<char>(r + c));
    }
    write_file(dir + "/" + name, bytes);
  };
  for (int i = 1; i <= 5; ++i) file("data_batch_" + std::to_string(i) + ".bin");
  file("test_batch.bin");
}

}  // namespace trex::test
