#include "trex/common/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "trex/store/store.h"

namespace trex {
namespace {

std::string holder_text() {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return "pid " + std::to_string(getpid()) + " on host " + host_name() + " (since " + stamp + ")\n";
}

std::string read_holder(int fd) {
  char buf[256] = {0};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string out(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "another process" : out;
}

}  // namespace

FolderLock::FolderLock(const std::string& folder, const std::string& what) {
  std::filesystem::create_directories(folder);
  const std::string path = (std::filesystem::path(folder) / "lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + " to lock " + what + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = errno == EWOULDBLOCK ? read_holder(fd_) : std::string(std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(what + " is being written by " + holder + "; two processes never write one " +
                             what.substr(0, what.find(' ')) + ": wait for it to end, or stop it and resume");
  }
  const std::string text = holder_text();
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // The lock holds without the note; a refused writer then says "another process".
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace trex
