// Downloaded datasets are checked against their own headers and the limits
// before memory is taken: an IDX header's claim, a CIFAR file's record count,
// an image header's pixel count.
#include <zlib.h>

#include <chrono>

#include <opencv2/imgcodecs.hpp>

#include "../cifar_files.h"
#include "../helpers.h"
#include "trex/plugin/dataset.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<Dataset> open_dataset(const std::string& type,
                                      const std::vector<std::pair<std::string, std::string>>& params) {
  Node n = Node::map();
  n.set("type", Node::scalar(type));
  for (const auto& [k, v] : params) n.set(k, Node::scalar(v, k == "root"));
  Diagnostics diag;
  auto resolved = built_plugins().resolve(Kind::Dataset, n, "data", diag);
  REQUIRE(resolved);
  return built_plugins().create_as<Dataset>(*resolved, {});
}

std::string be32(std::uint32_t v) {
  std::string s;
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

void gzip_file(const std::string& path, const std::string& head, std::size_t zeros) {
  gzFile out = gzopen(path.c_str(), "wb9");
  gzwrite(out, head.data(), static_cast<unsigned>(head.size()));
  const std::string block(1 << 20, '\0');
  for (std::size_t done = 0; done < zeros; done += block.size())
    gzwrite(out, block.data(), static_cast<unsigned>(std::min(block.size(), zeros - done)));
  gzclose(out);
}

}  // namespace

TEST_CASE("a small gzip whose IDX header claims 16 GiB is refused before it is inflated", "[hostile][idx]") {
  TempDir d;
  // 16 MB of zeros compress to ~16 KB; the header claims 65536 x 512 x 512 bytes.
  gzip_file(d.file("train-images-idx3-ubyte.gz"), be32(0x803) + be32(65536) + be32(512) + be32(512), 16 << 20);
  REQUIRE(fs::file_size(d.file("train-images-idx3-ubyte.gz")) < (1 << 20));
  for (const char* f : {"train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    write_file(d.file(f), "");
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(open_dataset("idx", {{"root", d.str()}}),
                    Contains("train-images-idx3-ubyte.gz: the header claims at least 17179869184 bytes") &&
                        Contains("over the limit of 4") && Contains("data.max_gb"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  // Under a limit it fits, a header that says less than the file holds is caught without reading the rest.
  gzip_file(d.file("train-images-idx3-ubyte.gz"), be32(0x803) + be32(10) + be32(4) + be32(4), 16 << 20);
  CHECK_THROWS_WITH(open_dataset("idx", {{"root", d.str()}}),
                    Contains("expected 160 bytes of data after the header, found more"));
}

TEST_CASE("a CIFAR batch with more records than the format holds is refused by its size", "[hostile][cifar]") {
  TempDir d;
  write_cifar10(d.str(), 20);
  write_file(d.file("data_batch_2.bin"), std::string(10001 * 3073, '\x01'));
  CHECK_THROWS_WITH(open_dataset("cifar10", {{"root", d.str()}}),
                    Contains("data_batch_2.bin: 10001 records of 3073 bytes, but such a file holds at most 10000"));
  write_cifar10(d.str(), 20);
  write_file(d.file("batches.meta.txt"), std::string((1 << 20) + 1, 'x'));
  CHECK_THROWS_WITH(open_dataset("cifar10", {{"root", d.str()}}),
                    Contains("batches.meta.txt") && Contains("at most 1 MiB"));
}

TEST_CASE("an image whose header claims more pixels than data.max_pixels is refused by name, or skipped",
          "[hostile][image_folder]") {
  TempDir d;
  write_image_folder(d.str(), 2);
  // A valid 3 x 2 PNG whose IHDR is then edited to claim 100000 x 100000 pixels.
  std::vector<unsigned char> png;
  cv::imencode(".png", cv::Mat(2, 3, CV_8UC3, cv::Scalar::all(9)), png);
  std::string bytes(png.begin(), png.end());
  bytes.replace(16, 8, be32(100000) + be32(100000));
  write_file(d.file("class_1/huge.png"), bytes);
  auto ds = open_dataset("image_folder", {{"root", d.str()}, {"height", "8"}, {"width", "8"}});
  std::size_t huge = 0;
  for (std::size_t i = 0; i < ds->labels("train").size(); ++i) {
    try {
      ds->image("train", i);
    } catch (const std::exception& e) {
      CHECK_THAT(e.what(),
                 Contains("huge.png: its header states 100000 x 100000 pixels, over data.max_pixels (89478485)"));
      ++huge;
    }
  }
  CHECK(huge == 1);
  auto skipping =
      open_dataset("image_folder", {{"root", d.str()}, {"height", "8"}, {"width", "8"}, {"on_bad_image", "skip"}});
  CHECK(skipping->skipped_images() == 1);
  CHECK(skipping->labels("train").size() == 6);
}
