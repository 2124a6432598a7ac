#include "trex/common/system.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <climits>
#include <ctime>
#include <fstream>

namespace trex {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

double seconds_since_process_start() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  timespec boot{};
  if (!std::getline(stat, line) || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return 0;
  // Field 22, counted from the last ')' (the command name may hold spaces).
  std::size_t at = line.rfind(')');
  for (int field = 2; field < 22 && at != std::string::npos; ++field) at = line.find(' ', at + 1);
  if (at == std::string::npos) return 0;
  const double ticks = std::strtod(line.c_str() + at + 1, nullptr);
  return std::max(0.0, boot.tv_sec + boot.tv_nsec * 1e-9 - ticks / static_cast<double>(sysconf(_SC_CLK_TCK)));
}

std::string tunables_with_hugepages(const std::string& current) {
  if (current.find("glibc.malloc.hugetlb") != std::string::npos) return current;
  return current.empty() ? "glibc.malloc.hugetlb=1" : current + ":glibc.malloc.hugetlb=1";
}

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);  // glibc still maps when the heap cannot grow
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

bool process_alive(std::int64_t pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // A killed process whose parent died stays a zombie until something reaps
  // it (a container's PID 1 may never): it runs nothing, so it is not alive.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

}  // namespace trex
