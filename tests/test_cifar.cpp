// The CIFAR reader on files in the real binary format, and on corrupt ones.
#include <catch2/catch.hpp>

#include "cifar_files.h"
#include "trex/plugin/dataset.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {
std::shared_ptr<Dataset> open_cifar(const std::string& root, const std::string& type = "cifar10",
                                    const std::string& labels = "") {
  Node n = Node::map();
  n.set("type", Node::scalar(type));
  n.set("root", Node::scalar(root, true));
  if (!labels.empty()) n.set("labels", Node::scalar(labels));
  Diagnostics diag;
  auto resolved = built_plugins().resolve(Kind::Dataset, n, "data", diag);
  REQUIRE(resolved);
  return built_plugins().create_as<Dataset>(*resolved, {});
}
}  // namespace

TEST_CASE("CIFAR-10 binary files load as 32x32 RGB with their labels and names", "[cifar]") {
  TempDir d;
  write_cifar10(d.str());
  auto ds = open_cifar(d.str());
  CHECK(ds->labels("train").size() == 100);
  CHECK(ds->labels("test").size() == 20);
  CHECK(ds->class_names()[3] == "cat");
  CHECK(ds->labels("train")[13] == 3);
  cv::Mat img = ds->image("train", 13);
  CHECK(img.type() == CV_8UC3);
  CHECK(img.rows == 32);
  // Planar R, G, B bytes became interleaved RGB: record 13 has R=13, G=14, B=15.
  CHECK(img.at<cv::Vec3b>(5, 7) == cv::Vec3b(13, 14, 15));
}

TEST_CASE("CIFAR-100 reads fine or coarse labels", "[cifar]") {
  TempDir d;
  for (const char* name : {"train.bin", "test.bin"}) {
    std::string bytes;
    for (int r = 0; r < 4; ++r)
      bytes += static_cast<char>(r % 20), bytes += static_cast<char>(50 + r), bytes += std::string(3072, 'x');
    write_file(d.file(name), bytes);
  }
  CHECK(open_cifar(d.str(), "cifar100")->labels("train") == std::vector<std::int64_t>{50, 51, 52, 53});
  CHECK(open_cifar(d.str(), "cifar100", "coarse")->labels("test") == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(open_cifar(d.str(), "cifar100")->class_names().size() == 100);
}

TEST_CASE("corrupt CIFAR files name the file and the record", "[cifar]") {
  TempDir d;
  write_cifar10(d.str());
  SECTION("truncated") {
    std::string bytes = read_file(d.file("data_batch_3.bin"));
    write_file(d.file("data_batch_3.bin"), bytes.substr(0, bytes.size() - 100));
    CHECK_THROWS_WITH(open_cifar(d.str()),
                      Contains("data_batch_3.bin: record 19 is truncated: expected 3073 bytes, found 2973"));
  }
  SECTION("a label out of range") {
    std::string bytes = read_file(d.file("test_batch.bin"));
    bytes[3073 * 2] = 42;
    write_file(d.file("test_batch.bin"), bytes);
    CHECK_THROWS_WITH(open_cifar(d.str()), Contains("test_batch.bin: record 2 has label 42, expected 0..9"));
  }
  SECTION("a missing batch") {
    fs::remove(d.file("data_batch_5.bin"));
    CHECK_THROWS_WITH(open_cifar(d.str()), Contains("data_batch_5.bin not found"));
  }
  SECTION("a missing folder") {
    CHECK_THROWS_WITH(open_cifar(d.file("nope")), Contains("CIFAR folder '" + d.file("nope") + "' not found"));
  }
}

TEST_CASE("the book's CIFAR-10 CNN spec runs one epoch on CIFAR files in the real format", "[cifar][e2e]") {
  TempDir d;
  write_cifar10(d.file("cifar"), 60);
  const std::string store = d.file("trex.db");
  auto r = run_command(trex_binary() + " run " + source_dir() + "/experiments/book/cifar10_cnn.yaml --set data.root=" +
                       d.file("cifar") + " --set train.epochs=1 -q --store " + store);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto out = run_command("sqlite3 " + store +
                         " \"SELECT status FROM runs; SELECT COUNT(*) FROM metrics WHERE split='test';"
                         " SELECT value FROM params WHERE key='train.optimizer.type';\"");
  CHECK(out.output == "completed\n4\nadadelta\n");  // test accuracy, f1, weighted_f1 and loss
}

TEST_CASE("the book's VGG16 transfer spec runs one epoch on CIFAR files with exported weights",
          "[cifar][e2e][transfer]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  TempDir d;
  write_cifar10(d.file("cifar"), 40);
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py vgg16 " +
                      d.file("vgg16.pt"))
              .exit_code == 0);
  const std::string store = d.file("trex.db");
  auto r =
      run_command(trex_binary() + " run " + source_dir() +
                  "/experiments/book/cifar10_vgg16_transfer.yaml --set data.root=" + d.file("cifar") +
                  " --set model.backbone.weights=" + d.file("vgg16.pt") + " --set train.epochs=1 -q --store " + store);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto out = run_command("sqlite3 " + store +
                         " \"SELECT status FROM runs; SELECT value FROM params WHERE key='model.params.trainable';"
                         " SELECT COUNT(*) FROM metrics WHERE split='test';\"");
  // Trainable: BN1d(256) 512 + 256*256+256 + 256*256+256 + 256*10+10; the frozen VGG16 is not.
  CHECK(out.output == "completed\n" + std::to_string(512 + 2 * (256 * 256 + 256) + 2570) + "\n3\n");
}
