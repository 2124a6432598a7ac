// MNIST / Fashion-MNIST in IDX format, gzipped or not.
#include <filesystem>

#include "idx_format.h"
#include "trex/plugin/dataset.h"
#include "trex/plugin/export.h"
#include "trex/plugin_kit/train_test_bytes.h"

namespace trex_idx {
using namespace trex;
namespace fs = std::filesystem;

struct IdxOptions {
  /// Folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; default: Debian's dataset-fashion-mnist.
  std::string root = "/usr/share/datasets/fashion-mnist/";
  /// fashion_mnist | mnist: which class names to use.
  std::string classes = "fashion_mnist";
  /// Largest data one file may hold, in GiB (its header is checked against it before reading).
  double max_gb = 4;
};

const std::vector<std::string> kFashionNames{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kDigitNames{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

std::string find_file(const std::string& root, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    fs::path p = fs::path(root) / (stem + ext);
    if (fs::exists(p)) return p.string();
  }
  throw std::runtime_error("IDX file '" + stem + "' (or '" + stem + ".gz') not found in '" + root +
                           "'; install dataset-fashion-mnist or set data.root to the folder holding it");
}

class IdxDataset : public Dataset {
 public:
  explicit IdxDataset(IdxOptions o) : options_(std::move(o)) {
    names_ = options_.classes == "mnist" ? kDigitNames : kFashionNames;
    load("train", "train");
    load("test", "t10k");
  }

  std::vector<std::string> class_names() const override { return names_; }
  std::vector<std::string> splits() const override { return {"train", "test"}; }
  const std::vector<std::int64_t>& labels(const std::string& split) const override { return data_.get(split).labels; }
  cv::Mat image(const std::string& split, std::size_t index) const override {
    const ByteSplit& p = data_.get(split);
    if (index >= p.labels.size()) throw std::out_of_range("idx: index " + std::to_string(index) + " out of range");
    // Wraps the stored bytes; the caller copies before it modifies.
    return cv::Mat(rows_, cols_, CV_8UC1, const_cast<unsigned char*>(&p.pixels[index * rows_ * cols_]));
  }
  ImageShape shape() const override { return {1, rows_, cols_}; }

 private:
  void load(const std::string& split, const std::string& stem) {
    const std::string image_path = find_file(options_.root, stem + "-images-idx3-ubyte");
    const std::string label_path = find_file(options_.root, stem + "-labels-idx1-ubyte");
    const auto max_bytes = static_cast<std::uint64_t>(options_.max_gb * (1ULL << 30));
    IdxArray images = read_idx_file(image_path, 3, max_bytes);
    IdxArray labels = read_idx_file(label_path, 1, max_bytes);
    if (images.dims[0] != labels.dims[0])
      throw std::runtime_error(label_path + ": expected " + std::to_string(images.dims[0]) +
                               " labels (one per image in " + image_path + "), found " +
                               std::to_string(labels.dims[0]));
    if ((rows_ && rows_ != images.dims[1]) || (cols_ && cols_ != images.dims[2]))
      throw std::runtime_error(image_path + ": image size differs from the train split's");
    rows_ = images.dims[1];
    cols_ = images.dims[2];
    ByteSplit& p = data_.get(split);
    p.pixels = std::move(images.data);
    p.labels.reserve(labels.data.size());
    for (std::size_t i = 0; i < labels.data.size(); ++i) {
      if (labels.data[i] >= names_.size())
        throw std::runtime_error(label_path + ": record " + std::to_string(i) + " has label " +
                                 std::to_string(labels.data[i]) + ", expected 0.." + std::to_string(names_.size() - 1));
      p.labels.push_back(labels.data[i]);
    }
  }

  IdxOptions options_;
  std::vector<std::string> names_;
  std::int64_t rows_ = 0, cols_ = 0;
  TrainTestBytes data_{"idx"};
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(
        Kind::Dataset, "idx", "1.0.0", "MNIST / Fashion-MNIST IDX files (gzipped or not); train + test splits",
        {ParamSpec("root", ParamType::String, "folder with the four IDX files").def(IdxOptions{}.root),
         ParamSpec("classes", ParamType::String, "class names to use")
             .def(IdxOptions{}.classes)
             .one_of({"fashion_mnist", "mnist"}),
         ParamSpec("max_gb", ParamType::Float,
                   "largest data one IDX file may hold (GiB); headers claiming more are refused")
             .def(IdxOptions{}.max_gb)
             .range(1e-6, 1024)});
    d.presets = {{"fashion_mnist",
                  "Fashion-MNIST from Debian's dataset-fashion-mnist",
                  {{"classes", std::string("fashion_mnist")}}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  IdxOptions o;
  o.root = p.get_string("root");
  o.classes = p.get_string("classes");
  o.max_gb = p.get_float("max_gb");
  return std::make_unique<IdxDataset>(std::move(o));
}

}  // namespace trex_idx

TREX_PLUGIN(trex_idx::descriptor, trex_idx::create)
