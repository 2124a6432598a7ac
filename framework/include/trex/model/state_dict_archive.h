#pragma once
// A torch.save zip archive of {name: tensor} read lazily: the pickle (checked
// by our walker first) gives every entry's dtype and shape, and an entry's
// bytes are read from the file only when it is asked for — so a backbone cut
// at block5_pool never reads VGG16's 500 MB classifier, and nothing is copied
// twice (each record is read once, into memory the tensor then owns).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace caffe2::serialize {
class PyTorchStreamReader;
}

namespace trex {

class StateDictArchive {
 public:
  /// Opens `path` (reads the zip directory and data.pkl only).
  explicit StateDictArchive(const std::string& path);
  /// The same over bytes in memory; `label` names them in errors.
  StateDictArchive(const std::vector<char>& bytes, const std::string& label);
  ~StateDictArchive();

  /// Names in the file's order of keys (sorted).
  std::vector<std::string> names() const;
  /// dtype, sizes and strides of `name`, without its data (never read its elements).
  const at::Tensor& shape_of(const std::string& name) const;
  bool has(const std::string& name) const { return shapes_.count(name) > 0; }
  /// `name` with its data, checked to lie inside the record it is stored in.
  at::Tensor read(const std::string& name);
  /// True when `name` is the only entry of its record and covers all of it
  /// (its storage can become a parameter's without a copy).
  bool owns_record(const std::string& name) const;

 private:
  void parse();
  at::Storage storage(const std::string& record);

  std::string label_;
  std::unique_ptr<std::istream> bytes_;  ///< for the in-memory form
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
  std::map<std::string, at::Tensor> shapes_;      ///< name -> tensor over a placeholder storage
  std::map<std::string, std::string> record_of_;  ///< name -> record key under data/
  std::map<std::string, int> entries_per_record_;
  std::map<std::string, at::Storage> storages_;  ///< records read so far
};

}  // namespace trex
