#include "trex/model/feature_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <ATen/ops/from_blob.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/serialize/archive.h>

#include "trex/model/script_archive.h"
#include "trex/store/store.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

/// An exclusive flock held for the object's life; the kernel drops it if the process dies.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0) throw std::runtime_error("feature cache: cannot open lock file '" + path + "'");
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw std::runtime_error("feature cache: cannot lock '" + path + "'");
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

/// The file's features when it holds this exact key (a hash collision or a
/// torn file reads as a miss).
std::optional<FeatureSet> read_file(const std::string& path, const std::string& key) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    {
      caffe2::serialize::PyTorchStreamReader reader(path);
      check_script_archive(reader, path);  // a damaged or foreign file reads as a miss
    }
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue stored_key;
    archive.read("key", stored_key);
    if (!stored_key.isString() || stored_key.toStringRef() != key) return std::nullopt;
    FeatureSet s;
    archive.read("features", s.features);
    archive.read("targets", s.targets);
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void write_file(const std::string& path, const std::string& key, const FeatureSet& s) {
  torch::serialize::OutputArchive archive;
  archive.write("key", c10::IValue(key));
  archive.write("features", s.features);
  archive.write("targets", s.targets);
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  archive.save_to(tmp);
  fs::rename(tmp, path);  // readers see the whole file or none
}

}  // namespace

std::string FeatureCache::file_of(const std::string& key) const {
  return (fs::path(dir_) / (text_hash(key) + ".pt")).string();
}

const FeatureSet& FeatureCache::get(const std::string& key, const std::function<FeatureSet()>& compute,
                                    std::string* source) {
  auto held = held_.find(key);
  if (held != held_.end()) {
    if (source) *source = "memory";
    return held->second;
  }
  if (dir_.empty()) {
    if (source) *source = "computed";
    return held_[key] = compute();
  }
  fs::create_directories(dir_);
  const std::string path = file_of(key);
  if (auto s = read_file(path, key)) {
    if (source) *source = "disk";
    return held_[key] = std::move(*s);
  }
  FileLock lock(path + ".lock");
  if (auto s = read_file(path, key)) {  // another run made it while we waited
    if (source) *source = "disk";
    return held_[key] = std::move(*s);
  }
  FeatureSet s = compute();
  write_file(path, key, s);
  if (source) *source = "computed";
  return held_[key] = std::move(s);
}

CachedBatches::CachedBatches(const FeatureSet& set, std::int64_t batch_size, bool shuffle, std::uint64_t seed,
                             std::int64_t epoch, std::uint64_t stream, std::optional<std::vector<std::size_t>> order)
    : set_(set), batch_size_(static_cast<std::size_t>(batch_size)) {
  order_ = order ? std::move(*order)
                 : BatchLoader::order(static_cast<std::size_t>(set.targets.size(0)), shuffle, seed, epoch, stream);
  batches_ = (order_.size() + batch_size_ - 1) / batch_size_;
}

std::optional<Batch> CachedBatches::next() {
  if (next_ >= batches_) return std::nullopt;
  const std::size_t begin = next_ * batch_size_, end = std::min(order_.size(), begin + batch_size_);
  ++next_;
  Batch b;
  b.positions.assign(order_.begin() + static_cast<std::ptrdiff_t>(begin),
                     order_.begin() + static_cast<std::ptrdiff_t>(end));
  std::vector<std::int64_t> idx(b.positions.begin(), b.positions.end());
  const at::Tensor index = at::from_blob(idx.data(), {static_cast<std::int64_t>(idx.size())}, at::kLong);
  b.images = set_.features.index_select(0, index);
  b.targets = set_.targets.index_select(0, index);
  return b;
}

}  // namespace trex
