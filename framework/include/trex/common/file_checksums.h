#pragma once
// Checksums computed once per file version. A 553 MB weights file is hashed
// when a run first meets it; after that its checksum is taken from a memo
// keyed by the file's stamp — path, device, inode, size, mtime and ctime
// (ctime cannot be set back from user space) — and recomputed when any of
// them changes, so a changed file is still caught.
#include <cstdint>
#include <optional>
#include <string>

namespace trex {

struct FileStamp {
  std::uint64_t device = 0, inode = 0;
  std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
  }
  /// The stamp of `path` (following links); nullopt when it cannot be read.
  static std::optional<FileStamp> of(const std::string& path);
};

/// Where checksums are remembered between processes (the store's
/// file_checksums table, store/file_checksums.h).
class ChecksumMemo {
 public:
  virtual ~ChecksumMemo() = default;
  /// The checksum remembered for `path` with exactly this stamp.
  virtual std::optional<std::string> find(const std::string& path, const FileStamp& stamp) = 0;
  virtual void keep(const std::string& path, const FileStamp& stamp, const std::string& checksum) = 0;
};

/// Makes `memo` the process's memo while the object lives (a command that
/// opened a writable store sets it); the previous one comes back after.
class UseChecksumMemo {
 public:
  explicit UseChecksumMemo(ChecksumMemo* memo);
  ~UseChecksumMemo();
  UseChecksumMemo(const UseChecksumMemo&) = delete;
  UseChecksumMemo& operator=(const UseChecksumMemo&) = delete;

 private:
  ChecksumMemo* previous_;
};

/// file_checksum(path), read only when no memo (the process's own, then the
/// one in use) knows this version of the file. A file that changes while it
/// is hashed is hashed, not remembered.
std::string remembered_file_checksum(const std::string& path);

}  // namespace trex
