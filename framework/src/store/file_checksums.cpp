#include "trex/store/file_checksums.h"

#include "trex/common/system.h"

namespace trex {

std::optional<std::string> StoreChecksums::find(const std::string& path, const FileStamp& stamp) {
  if (store_.schema_version() < 5) return std::nullopt;  // an older store opened read-only
  auto s = store_.db().prepare(
      "SELECT checksum FROM file_checksums WHERE path = ? AND host = ? AND device = ? AND inode = ? AND size = ? "
      "AND mtime_ns = ? AND ctime_ns = ?");
  s.bind_all(path, host_name(), static_cast<std::int64_t>(stamp.device), static_cast<std::int64_t>(stamp.inode),
             stamp.size, stamp.mtime_ns, stamp.ctime_ns);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void StoreChecksums::keep(const std::string& path, const FileStamp& stamp, const std::string& checksum) {
  if (read_only_) return;
  try {
    store_.db()
        .prepare("INSERT OR REPLACE INTO file_checksums VALUES(?, ?, ?, ?, ?, ?, ?, ?)")
        .bind_all(path, host_name(), static_cast<std::int64_t>(stamp.device), static_cast<std::int64_t>(stamp.inode),
                  stamp.size, stamp.mtime_ns, stamp.ctime_ns, checksum)
        .run();
  } catch (const std::exception&) {
    // A memo that cannot be written (a busy or read-only store) only costs the next run a hash.
  }
}

}  // namespace trex
