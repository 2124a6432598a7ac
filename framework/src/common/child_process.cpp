#include "trex/common/child_process.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace trex {

pid_t start_child(const std::string& exe, std::vector<std::string> args, const std::function<void()>& in_child,
                  const std::string& what) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("cannot start " + what + ": " + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent died before prctl
    setpgid(0, 0);
    if (in_child) in_child();
    ::execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace trex
