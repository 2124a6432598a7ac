#pragma once
// Child processes a trex process supervises (a sweep's trials, --nproc's
// workers): they die with it, even when it is SIGKILLed, so nothing keeps
// writing for a parent that is gone; and they have their own process group, so
// a terminal's Ctrl-C reaches only the parent, which stops them one signal at
// a time.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace trex {

/// Forks and execs `exe` with `args` (argv[0] first); `in_child` runs in the
/// child before the exec (environment, redirections). Returns the child's pid;
/// throws, naming `what`, when it cannot fork.
pid_t start_child(const std::string& exe, std::vector<std::string> args, const std::function<void()>& in_child,
                  const std::string& what);

}  // namespace trex
