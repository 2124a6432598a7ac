#include "trex/dist/dist.h"

#include <cstdlib>
#include <stdexcept>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace trex {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0)
    throw std::runtime_error(std::string("environment variable ") + name + "='" + v + "' is not a number");
  return static_cast<int>(x);
}

std::string env_text(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The first host of a Slurm node list: "n[3-5,8],m1" -> "n3".
std::string first_host(const std::string& list) {
  const auto bracket = list.find('['), comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) return list.substr(0, comma);
  std::string first = list.substr(bracket + 1);
  first = first.substr(0, first.find_first_of("-,]"));
  return list.substr(0, bracket) + first;
}

/// A peer that is gone shows as a c10d error; say what it means.
[[noreturn]] void rethrow(const char* what, const std::exception& e) {
  std::string msg = e.what();
  msg = msg.substr(0, msg.find('\n'));
  throw std::runtime_error(std::string("data-parallel ") + what + " failed (" + msg +
                           "): another worker stopped or is unreachable; see its output");
}

class GlooCollective : public Collective {
 public:
  GlooCollective(const DistEnv& env, std::chrono::milliseconds timeout) : rank_(env.rank), world_(env.world) {
    c10::intrusive_ptr<c10d::Store> store;
    try {
      if (!env.file_store.empty()) {
        store = c10::make_intrusive<c10d::FileStore>(env.file_store, env.world);
      } else {
        c10d::TCPStoreOptions o;
        o.port = static_cast<std::uint16_t>(env.master_port);
        o.isServer = env.rank == 0;
        o.numWorkers = static_cast<std::size_t>(env.world);
        o.timeout = timeout;
        store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
      }
      store->setTimeout(timeout);
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
          env.file_store.empty() && env.master_addr != "127.0.0.1" ? hostname_for(env) : "127.0.0.1"));
      options->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world, options);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      throw std::runtime_error(
          "data-parallel rendezvous (rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + " at " +
          (env.file_store.empty() ? env.master_addr + ":" + std::to_string(env.master_port) : env.file_store) +
          ") failed: " + msg.substr(0, msg.find('\n')) +
          "; check MASTER_ADDR/MASTER_PORT and that every worker started");
    }
  }
  int rank() const override { return rank_; }
  int world() const override { return world_; }

  void allreduce_sum(at::Tensor& flat) override {
    std::vector<at::Tensor> t{flat};
    try {
      group_->allreduce(t)->wait();
    } catch (const std::exception& e) {
      rethrow("allreduce", e);
    }
  }
  std::function<void()> allreduce_sum_async(at::Tensor& flat) override {
    std::vector<at::Tensor> t{flat};
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = group_->allreduce(t);
    } catch (const std::exception& e) {
      rethrow("allreduce", e);
    }
    return [work] {
      try {
        work->wait();
      } catch (const std::exception& e) {
        rethrow("allreduce", e);
      }
    };
  }
  void broadcast(at::Tensor& flat, int root) override {
    std::vector<at::Tensor> t{flat};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    try {
      group_->broadcast(t, o)->wait();
    } catch (const std::exception& e) {
      rethrow("broadcast", e);
    }
  }
  at::Tensor allgather(const at::Tensor& t) override {
    std::vector<at::Tensor> in{t.contiguous()};
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < world_; ++r) out[0].push_back(at::empty_like(in[0]));
    try {
      group_->allgather(out, in)->wait();
    } catch (const std::exception& e) {
      rethrow("allgather", e);
    }
    return at::stack(out[0]);
  }
  void barrier() override {
    try {
      group_->barrier()->wait();
    } catch (const std::exception& e) {
      rethrow("barrier", e);
    }
  }

 private:
  /// Across nodes Gloo must bind an address the others reach: this host's name.
  static std::string hostname_for(const DistEnv&) {
    char name[256] = {0};
    gethostname(name, sizeof name - 1);
    return name;
  }

  int rank_, world_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  if (!env_text("WORLD_SIZE").empty()) {
    e.world = env_int("WORLD_SIZE", 1);
    e.rank = env_int("RANK", 0);
    if (!env_text("MASTER_ADDR").empty()) e.master_addr = env_text("MASTER_ADDR");
  } else if (!env_text("SLURM_NTASKS").empty() && !env_text("SLURM_PROCID").empty()) {
    e.world = env_int("SLURM_NTASKS", 1);
    e.rank = env_int("SLURM_PROCID", 0);
    e.master_port = 29500 + env_int("SLURM_JOB_ID", 0) % 1000;
    if (!env_text("SLURM_JOB_NODELIST").empty()) e.master_addr = first_host(env_text("SLURM_JOB_NODELIST"));
    if (!env_text("MASTER_ADDR").empty()) e.master_addr = env_text("MASTER_ADDR");
  }
  e.master_port = env_int("MASTER_PORT", e.master_port);
  e.file_store = env_text("TREX_DIST_FILE");
  if (e.world < 1 || e.rank >= e.world)
    throw std::runtime_error("rank " + std::to_string(e.rank) + " is outside a world of " + std::to_string(e.world) +
                             " (RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS)");
  if (e.master_port < 1 || e.master_port > 65535) throw std::runtime_error("MASTER_PORT must be a TCP port, 1..65535");
  return e;
}

std::unique_ptr<Collective> make_gloo_collective(const DistEnv& env, std::chrono::milliseconds timeout) {
  return std::make_unique<GlooCollective>(env, timeout);
}

}  // namespace trex
