#include "launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "trex/common/child_process.h"
#include "trex/store/store.h"

namespace trex::cli {
namespace {

std::vector<pid_t> g_workers;

void forward_signal(int sig) {
  for (pid_t p : g_workers)
    if (p > 0) ::kill(p, sig);
}

/// A TCP port that is free now on 127.0.0.1 (the kernel picks it).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("--nproc: no free TCP port on 127.0.0.1: ") + std::strerror(errno));
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string describe(int status) {
  if (WIFSIGNALED(status))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

bool failed(int status) { return !WIFEXITED(status) || WEXITSTATUS(status) != 0; }

}  // namespace

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(in, arg, '\0')) out.push_back(arg);
  return out;
}

namespace {

void start_workers(int nproc, const std::vector<std::string>& args) {
  const std::string port = std::to_string(free_port());
  g_workers.assign(static_cast<std::size_t>(nproc), 0);
  for (int rank = 0; rank < nproc; ++rank) {
    std::vector<std::string> a = args;
    if (rank > 0) a.insert(a.end(), {"-q", "--no-report"});  // rank 0 speaks and reports for the run
    g_workers[static_cast<std::size_t>(rank)] = start_child(
        "/proc/self/exe", a,
        [&] {
          setenv("RANK", std::to_string(rank).c_str(), 1);
          setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
          setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
          setenv("MASTER_ADDR", "127.0.0.1", 1);
          setenv("MASTER_PORT", port.c_str(), 1);
          // libgomp reads these at load time, so only a launcher can set them: a
          // worker's OpenMP threads that spin between parallel regions starve
          // the other workers on the same cores (measured: 629 vs 2203 img/s).
          const unsigned cores = std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(nproc));
          setenv("OMP_NUM_THREADS", std::to_string(cores).c_str(), 0);
          setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        },
        "a data-parallel worker");
  }
}

/// Waits for every worker; after the first failure the others get a grace
/// period to notice (their collectives fail) and record it, then are killed.
/// Returns each rank's wait status and sets `first_failed` (-1: none).
std::vector<int> wait_for_workers(int nproc, int& first_failed) {
  constexpr auto kGrace = std::chrono::seconds(30);
  std::vector<int> status(static_cast<std::size_t>(nproc), 0);
  int left = nproc;
  first_failed = -1;
  std::chrono::steady_clock::time_point deadline{};
  while (left > 0) {
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, first_failed < 0 ? 0 : WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nproc; ++r) {
        if (g_workers[static_cast<std::size_t>(r)] != pid) continue;
        status[static_cast<std::size_t>(r)] = st;
        g_workers[static_cast<std::size_t>(r)] = 0;
        --left;
        if (failed(st) && first_failed < 0) {
          first_failed = r;
          deadline = std::chrono::steady_clock::now() + kGrace;
          std::cerr << "trex: worker rank " << r << " (pid " << pid << ") " << describe(st) << "\n";
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (first_failed >= 0 && std::chrono::steady_clock::now() > deadline) {
      for (pid_t p : g_workers)
        if (p > 0) ::kill(p, SIGKILL);
      deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status;
}

// Rank 0 records failures itself, unless it is the one that died.
void mark_failed_if_rank0_died(const std::string& store_path, pid_t rank0_pid, int status0, int nproc) {
  if (!WIFSIGNALED(status0)) return;
  try {
    Store store(store_path);
    for (const auto& run : store.runs())
      if (run.status == "running" && run.pid == rank0_pid)
        store.set_status(run.id, RunStatus::Failed,
                         "worker rank 0 " + describe(status0) + "; resume with trex run --resume " + run.id +
                             " --nproc " + std::to_string(nproc));
  } catch (const std::exception& e) {
    std::cerr << "trex: could not mark the run failed: " << e.what() << "\n";
  }
}

}  // namespace

int launch_workers(int nproc, std::vector<std::string> args, const std::string& store_path) {
  std::signal(SIGINT, forward_signal);
  std::signal(SIGTERM, forward_signal);
  start_workers(nproc, args);
  const pid_t rank0_pid = g_workers[0];
  int first_failed = -1;
  const std::vector<int> status = wait_for_workers(nproc, first_failed);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (first_failed < 0) return 0;
  mark_failed_if_rank0_died(store_path, rank0_pid, status[0], nproc);
  for (int r = 0; r < nproc; ++r)
    if (failed(status[static_cast<std::size_t>(r)]) && r != first_failed)
      std::cerr << "trex: worker rank " << r << " " << describe(status[static_cast<std::size_t>(r)]) << "\n";
  const int s = status[static_cast<std::size_t>(first_failed)];
  return WIFEXITED(s) ? WEXITSTATUS(s) : 1;
}

}  // namespace trex::cli
