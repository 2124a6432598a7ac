#pragma once
// One writer per run (and per sweep): an exclusive flock on `<folder>/lock`,
// held while the object lives and released by the kernel when the process
// dies, however it dies. The file names its holder, so a refused second
// writer can say who holds it.
#include <string>

namespace trex {

class FolderLock {
 public:
  /// Takes the lock, or throws "<what> is being written by pid P on host H
  /// (since ...)"; `what` names the thing, e.g. "run 2026...-ab12".
  FolderLock(const std::string& folder, const std::string& what);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace trex
