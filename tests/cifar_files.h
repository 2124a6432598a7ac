#pragma once
// Writes small datasets in real on-disk formats (CIFAR binary, image folders), for tests.
#include <string>

#include <opencv2/imgcodecs.hpp>

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

/// An image folder: root/<class>/<n>.png for 3 classes, `per_class` images each,
/// of varied sizes and channel counts (gray, BGR, BGRA); pixel value = class * 60 + n.
inline void write_image_folder(const std::string& root, int per_class = 4) {
  for (int c = 0; c < 3; ++c)
    for (int n = 0; n < per_class; ++n) {
      const int type = n % 3 == 0 ? CV_8UC1 : n % 3 == 1 ? CV_8UC3 : CV_8UC4;
      cv::Mat img(10 + 5 * n, 12 + 3 * c, type, cv::Scalar::all(c * 60 + n));
      fs::create_directories(root + "/class_" + std::to_string(c));
      cv::imwrite(root + "/class_" + std::to_string(c) + "/" + std::to_string(n) + ".png", img);
    }
}

}  // namespace trex::test
