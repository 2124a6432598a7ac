// CIFAR-10 and CIFAR-100, binary version: data_batch_{1..5}.bin + test_batch.bin
// (label byte + 3072 pixel bytes per record) or train.bin + test.bin (coarse
// label, fine label, 3072 bytes). Pixels are stored planar R, G, B; images
// come out as 32x32 RGB.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cifar_format.h"

#include "trex/plugin/dataset.h"
#include "trex/plugin/export.h"
#include "trex/plugin_kit/train_test_bytes.h"

namespace trex_cifar {
using namespace trex;
namespace fs = std::filesystem;

constexpr int kSide = 32;
constexpr std::size_t kPixels = 3 * kSide * kSide;

const std::vector<std::string> kCifar10Names{"airplane", "automobile", "bird",  "cat",  "deer",
                                             "dog",      "frog",       "horse", "ship", "truck"};

struct CifarOptions {
  std::string root;                 ///< folder with the .bin files
  std::string variant = "cifar10";  ///< cifar10 | cifar100
  std::string labels = "fine";      ///< cifar100: fine (100 classes) | coarse (20)
};

std::vector<std::string> read_names(const fs::path& file) {
  constexpr std::uintmax_t kMaxNamesBytes = 1 << 20;
  if (fs::file_size(file) > kMaxNamesBytes)
    throw std::runtime_error(file.string() + ": " + std::to_string(fs::file_size(file)) +
                             " bytes; a class-name list is one short "
                             "name a line (at most 1 MiB)");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_names(text.str());
}

class CifarDataset : public Dataset {
 public:
  explicit CifarDataset(CifarOptions o) : o_(std::move(o)) {
    if (!fs::is_directory(o_.root))
      throw std::runtime_error("CIFAR folder '" + o_.root +
                               "' not found; set data.root to the folder holding the binary version's .bin files");
    const bool c100 = o_.variant == "cifar100";
    const fs::path names_file =
        fs::path(o_.root) /
        (c100 ? (o_.labels == "coarse" ? "coarse_label_names.txt" : "fine_label_names.txt") : "batches.meta.txt");
    names_ = fs::exists(names_file) ? read_names(names_file) : std::vector<std::string>{};
    const std::size_t classes = c100 ? (o_.labels == "coarse" ? 20 : 100) : 10;
    if (names_.empty()) {
      if (c100)
        for (std::size_t i = 0; i < classes; ++i) names_.push_back(std::to_string(i));
      else
        names_ = kCifar10Names;
    }
    if (names_.size() != classes)
      throw std::runtime_error(names_file.string() + ": expected " + std::to_string(classes) + " class names, found " +
                               std::to_string(names_.size()));
    if (c100) {
      load("train", {"train.bin"});
      load("test", {"test.bin"});
    } else {
      load("train",
           {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"});
      load("test", {"test_batch.bin"});
    }
  }

  std::vector<std::string> class_names() const override { return names_; }
  std::vector<std::string> splits() const override { return {"train", "test"}; }
  const std::vector<std::int64_t>& labels(const std::string& split) const override { return data_.get(split).labels; }
  cv::Mat image(const std::string& split, std::size_t index) const override {
    const ByteSplit& p = data_.get(split);
    cv::Mat img(kSide, kSide, CV_8UC3);
    const unsigned char* src = &p.pixels.at(index * kPixels);
    for (int i = 0; i < kSide * kSide; ++i)
      for (int c = 0; c < 3; ++c) img.data[i * 3 + c] = src[c * kSide * kSide + i];  // planar -> interleaved RGB
    return img;
  }
  ImageShape shape() const override { return {3, kSide, kSide}; }

 private:
  void load(const std::string& split, const std::vector<std::string>& files) {
    const bool c100 = o_.variant == "cifar100";
    RecordLayout layout;
    layout.label_bytes = c100 ? 2 : 1;
    layout.label_at = c100 && o_.labels == "fine" ? 1 : 0;
    layout.classes = names_.size();
    for (const auto& name : files) {
      const fs::path path = fs::path(o_.root) / name;
      if (!fs::exists(path))
        throw std::runtime_error(
            path.string() + " not found; the " + o_.variant + " binary version has " +
            (c100 ? "train.bin and test.bin" : "data_batch_1.bin ... data_batch_5.bin and test_batch.bin"));
      layout.max_records = c100 && name == "train.bin" ? 50000 : 10000;
      // The size is checked against the format before anything is read.
      const std::uintmax_t size = fs::file_size(path);
      check_record_count(static_cast<std::size_t>(size), layout, path.string());
      std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
      std::ifstream in(path, std::ios::binary);
      if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
        throw std::runtime_error(path.string() + ": cannot read " + std::to_string(size) + " bytes");
      parse_records(bytes.data(), bytes.size(), layout, path.string(), data_.get(split));
    }
  }

  CifarOptions o_;
  std::vector<std::string> names_;
  TrainTestBytes data_{"cifar"};
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(
        Kind::Dataset, "cifar", "1.0.0", "CIFAR-10 / CIFAR-100 binary version (32x32 RGB); train + test splits",
        {ParamSpec("root", ParamType::String, "folder with the .bin files (and batches.meta.txt)")
             .def(std::string("data/cifar-10-batches-bin")),
         ParamSpec("variant", ParamType::String, "which CIFAR")
             .def(std::string("cifar10"))
             .one_of({"cifar10", "cifar100"}),
         ParamSpec("labels", ParamType::String, "CIFAR-100 label set")
             .def(std::string("fine"))
             .one_of({"fine", "coarse"})});
    d.presets = {{"cifar10", "CIFAR-10 binary version", {{"variant", std::string("cifar10")}}},
                 {"cifar100", "CIFAR-100 binary version", {{"variant", std::string("cifar100")}}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<CifarDataset>(
      CifarOptions{p.get_string("root"), p.get_string("variant"), p.get_string("labels")});
}

}  // namespace trex_cifar

TREX_PLUGIN(trex_cifar::descriptor, trex_cifar::create)
