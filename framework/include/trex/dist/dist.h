#pragma once
// Data-parallel training on c10d: where this process stands (rank, world,
// rendezvous) and the few collectives training needs, behind one small
// interface — Gloo is built here; NCCL (with a CUDA LibTorch, which Debian does
// not ship) would be a second implementation of Collective.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

namespace trex {

struct DistEnv {
  int rank = 0;
  int world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string file_store;  ///< rendezvous through a FileStore at this path instead of TCP
};

/// RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT (torchrun's variables), else
/// Slurm's SLURM_PROCID / SLURM_NTASKS / SLURM_JOB_NODELIST (the master is the
/// first node; the port is 29500 + SLURM_JOB_ID % 1000 unless MASTER_PORT is
/// set); TREX_DIST_FILE selects a FileStore. A malformed value is an error
/// naming the variable.
DistEnv dist_env_from_environment();

/// Collectives over one flat tensor each (c10d wants one tensor per device).
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual void allreduce_sum(at::Tensor& flat) = 0;
  /// Starts an allreduce of `flat` (kept alive by the caller until it is
  /// done); the returned function waits for it.
  virtual std::function<void()> allreduce_sum_async(at::Tensor& flat) = 0;
  virtual void broadcast(at::Tensor& flat, int root) = 0;
  /// Every rank's `t` (all the same shape), stacked along a new first dimension.
  virtual at::Tensor allgather(const at::Tensor& t) = 0;
  virtual void barrier() = 0;
};

/// Gloo over TCPStore (rank 0 serves it) or FileStore; every collective fails
/// after `timeout` rather than hang when a peer is gone.
std::unique_ptr<Collective> make_gloo_collective(const DistEnv& env, std::chrono::milliseconds timeout);

}  // namespace trex
