// MNIST / Fashion-MNIST in IDX format, gzipped or not.
#include <zlib.h>

#include <array>
#include <cstring>
#include <filesystem>

#include "trex/plugin/dataset.h"
#include "trex/plugin/export.h"
#include "trex/plugin/train_test_bytes.h"

namespace trex_idx {
using namespace trex;
namespace fs = std::filesystem;

struct IdxOptions {
  /// Folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; default: Debian's dataset-fashion-mnist.
  std::string root = "/usr/share/datasets/fashion-mnist/";
  /// fashion_mnist | mnist: which class names to use.
  std::string classes = "fashion_mnist";
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

/// Reads a whole (possibly gzipped) file; zlib passes plain files through.
std::vector<unsigned char> read_all(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  std::vector<unsigned char> out;
  std::array<unsigned char, 1 << 16> buf;
  int n = 0;
  while ((n = gzread(f, buf.data(), buf.size())) > 0) out.insert(out.end(), buf.begin(), buf.begin() + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string reason = n < 0 ? msg : "";
  gzclose(f);
  if (n < 0) throw std::runtime_error(path + ": corrupt or truncated gzip data: " + reason);
  return out;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<unsigned char> data;
};

IdxArray parse_idx(const std::string& path, std::size_t expected_rank) {
  auto bytes = read_all(path);
  if (bytes.size() < 4) throw std::runtime_error(path + ": expected an IDX header of at least 4 bytes, found " + std::to_string(bytes.size()));
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
    throw std::runtime_error(path + ": expected IDX magic 00 00 08 (unsigned bytes), found " + std::to_string(bytes[0]) + " " +
                             std::to_string(bytes[1]) + " " + std::to_string(bytes[2]));
  const std::size_t rank = bytes[3];
  if (rank != expected_rank)
    throw std::runtime_error(path + ": expected " + std::to_string(expected_rank) + " dimensions, found " + std::to_string(rank));
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header)
    throw std::runtime_error(path + ": expected a " + std::to_string(header) + "-byte header, found " + std::to_string(bytes.size()) + " bytes");
  IdxArray a;
  std::size_t count = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    a.dims.push_back(be32(&bytes[4 + 4 * i]));
    if (a.dims.back() == 0 || a.dims.back() > (1u << 28)) throw std::runtime_error(path + ": implausible dimension " + std::to_string(a.dims.back()));
    count *= a.dims.back();
    if (count > (std::size_t{1} << 34)) throw std::runtime_error(path + ": header claims more than 16 GiB of data");
  }
  if (bytes.size() - header != count)
    throw std::runtime_error(path + ": expected " + std::to_string(count) + " bytes of data after the header, found " +
                             std::to_string(bytes.size() - header) + (bytes.size() - header < count ? " (truncated file?)" : ""));
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
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
    IdxArray images = parse_idx(image_path, 3);
    IdxArray labels = parse_idx(label_path, 1);
    if (images.dims[0] != labels.dims[0])
      throw std::runtime_error(label_path + ": expected " + std::to_string(images.dims[0]) + " labels (one per image in " +
                               image_path + "), found " + std::to_string(labels.dims[0]));
    if ((rows_ && rows_ != images.dims[1]) || (cols_ && cols_ != images.dims[2]))
      throw std::runtime_error(image_path + ": image size differs from the train split's");
    rows_ = images.dims[1];
    cols_ = images.dims[2];
    ByteSplit& p = data_.get(split);
    p.pixels = std::move(images.data);
    p.labels.reserve(labels.data.size());
    for (std::size_t i = 0; i < labels.data.size(); ++i) {
      if (labels.data[i] >= names_.size())
        throw std::runtime_error(label_path + ": record " + std::to_string(i) + " has label " + std::to_string(labels.data[i]) +
                                 ", expected 0.." + std::to_string(names_.size() - 1));
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
         ParamSpec("classes", ParamType::String, "class names to use").def(IdxOptions{}.classes).one_of({"fashion_mnist", "mnist"})});
    d.presets = {{"fashion_mnist", "Fashion-MNIST from Debian's dataset-fashion-mnist", {{"classes", std::string("fashion_mnist")}}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  IdxOptions o;
  o.root = p.get_string("root");
  o.classes = p.get_string("classes");
  return std::make_unique<IdxDataset>(std::move(o));
}

}  // namespace trex_idx

TREX_PLUGIN(trex_idx::descriptor, trex_idx::create)
