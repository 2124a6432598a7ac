// The IDX reader on the real Fashion-MNIST and on corrupted copies.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <opencv2/core.hpp>

#include "helpers.h"
#include "trex/plugin/dataset.h"
#include "trex/registry/registry.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

const Registry& registry() { return built_plugins(); }

std::shared_ptr<Dataset> open_idx(const std::string& root) {
  Node n = Node::map();
  n.set("type", Node::scalar("idx"));
  n.set("root", Node::scalar(root, true));
  Diagnostics diag;
  auto resolved = registry().resolve(Kind::Dataset, n, "data", diag);
  REQUIRE(resolved);
  return registry().create_as<Dataset>(*resolved, {});
}

std::string header(std::uint32_t magic, std::vector<std::uint32_t> dims) {
  std::string s;
  auto be = [&](std::uint32_t v) {
    for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  be(magic);
  for (auto d : dims) be(d);
  return s;
}

/// A tiny IDX set: `n` images of 4x4 in train and test; labels 0..9.
void write_set(const std::string& dir, int n, const std::string& images_suffix = "", int label_count = -1) {
  for (const char* stem : {"train", "t10k"}) {
    std::string img = header(0x803, {static_cast<std::uint32_t>(n), 4, 4}) +
                      std::string(static_cast<size_t>(n) * 16, '\x07') + images_suffix;
    const int labels = label_count < 0 ? n : label_count;
    std::string lab = header(0x801, {static_cast<std::uint32_t>(labels)});
    for (int i = 0; i < labels; ++i) lab += static_cast<char>(i % 10);
    write_file(dir + "/" + stem + "-images-idx3-ubyte", img);
    write_file(dir + "/" + stem + "-labels-idx1-ubyte", lab);
  }
}

}  // namespace

TEST_CASE("the real Fashion-MNIST loads with its shapes and class names", "[idx]") {
  auto ds = open_idx(fashion_root());
  CHECK(ds->labels("train").size() == 60000);
  CHECK(ds->labels("test").size() == 10000);
  CHECK(ds->shape().height == 28);
  CHECK(ds->class_names()[9] == "Ankle boot");
  cv::Mat img = ds->image("train", 0);
  CHECK(img.rows == 28);
  CHECK(img.type() == CV_8UC1);
  CHECK(cv::sum(img)[0] > 0);
  // The first training label of Fashion-MNIST is 9 (ankle boot), per its README.
  CHECK(ds->labels("train")[0] == 9);
}

TEST_CASE("plain and gzipped IDX files read the same", "[idx]") {
  TempDir d;
  write_set(d.str(), 20);
  auto plain = open_idx(d.str());
  TempDir g;
  for (const char* f :
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    const std::string data = read_file(d.file(f));
    gzFile out = gzopen(g.file(std::string(f) + ".gz").c_str(), "wb");
    gzwrite(out, data.data(), static_cast<unsigned>(data.size()));
    gzclose(out);
  }
  auto zipped = open_idx(g.str());
  CHECK(zipped->labels("train") == plain->labels("train"));
  CHECK(cv::norm(zipped->image("test", 3), plain->image("test", 3)) == 0);
}

TEST_CASE("corrupted IDX files give an error naming the file, expected and found", "[idx]") {
  TempDir d;
  SECTION("truncated image data") {
    write_set(d.str(), 20);
    std::string img = read_file(d.file("train-images-idx3-ubyte"));
    write_file(d.file("train-images-idx3-ubyte"), img.substr(0, img.size() - 5));
    CHECK_THROWS_WITH(open_idx(d.str()),
                      Contains("train-images-idx3-ubyte: expected 320 bytes of data after the header, "
                               "found 315 (truncated file?)"));
  }
  SECTION("bad magic") {
    write_set(d.str(), 4);
    write_file(d.file("train-labels-idx1-ubyte"), "PK\x03\x04 not idx at all");
    CHECK_THROWS_WITH(open_idx(d.str()), Contains("train-labels-idx1-ubyte: expected IDX magic 00 00 08"));
  }
  SECTION("label count differs from image count") {
    write_set(d.str(), 10, "", 9);
    CHECK_THROWS_WITH(open_idx(d.str()),
                      Contains("train-labels-idx1-ubyte: expected 10 labels") && Contains("found 9"));
  }
  SECTION("a missing file") {
    CHECK_THROWS_WITH(open_idx(d.str()),
                      Contains("IDX file 'train-images-idx3-ubyte' (or 'train-images-idx3-ubyte.gz') not found"));
  }
  SECTION("a corrupt gzip stream") {
    write_set(d.str(), 20);
    const std::string data = read_file(d.file("train-images-idx3-ubyte"));
    gzFile out = gzopen(d.file("train-images-idx3-ubyte.gz").c_str(), "wb");
    gzwrite(out, data.data(), static_cast<unsigned>(data.size()));
    gzclose(out);
    std::string z = read_file(d.file("train-images-idx3-ubyte.gz"));
    fs::remove(d.file("train-images-idx3-ubyte"));
    write_file(d.file("train-images-idx3-ubyte.gz"), z.substr(0, z.size() / 2));
    CHECK_THROWS_WITH(open_idx(d.str()), Contains("train-images-idx3-ubyte.gz: "));
  }
  SECTION("a header that claims absurd sizes") {
    write_set(d.str(), 4);
    write_file(d.file("t10k-images-idx3-ubyte"), header(0x803, {0xffffffffu, 0xffffffffu, 0xffffffffu}));
    CHECK_THROWS_WITH(open_idx(d.str()), Contains("t10k-images-idx3-ubyte: implausible dimension"));
  }
}
