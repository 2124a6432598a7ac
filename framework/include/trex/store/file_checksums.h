#pragma once
// The store remembers checksums of the big files runs reference (weights
// files): one row per path and host, with the file's stamp, so a sweep's
// trials and later runs do not hash the same 500 MB again
// (common/file_checksums.h says when a checksum is recomputed).
#include "trex/common/file_checksums.h"
#include "trex/store/store.h"

namespace trex {

class StoreChecksums : public ChecksumMemo {
 public:
  /// A read-only store finds but does not keep.
  explicit StoreChecksums(Store& store, bool read_only = false) : store_(store), read_only_(read_only) {}
  std::optional<std::string> find(const std::string& path, const FileStamp& stamp) override;
  void keep(const std::string& path, const FileStamp& stamp, const std::string& checksum) override;

 private:
  Store& store_;
  bool read_only_;
};

}  // namespace trex
