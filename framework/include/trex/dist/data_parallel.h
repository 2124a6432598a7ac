#pragma once
// Everything that differs between one process and the ranks of a
// data-parallel run, in one object the trainer calls the same way in both:
// for one process every call is a no-op or returns its input unchanged.
// With N ranks it starts every rank from rank 0's weights, broadcasts
// buffers before each step (DDP's broadcast_buffers), averages gradients in
// buckets that overlap backward, gathers every rank's rows of a batch so
// metrics are the whole set's, and shards each epoch's order.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "trex/dist/dist.h"
#include "trex/plugin/metric.h"

namespace trex {

class GradientSync;

class DataParallel {
 public:
  explicit DataParallel(const DistEnv& env);
  ~DataParallel();

  int rank() const { return env_.rank; }
  int world() const { return env_.world; }
  /// The rank that writes the store and the checkpoints.
  bool writer() const { return env_.rank == 0; }
  /// One process polls the stop flag after every batch; ranks stop together,
  /// on the flag that rides in the first gradient bucket.
  bool polls_stop() const { return env_.world == 1; }

  /// Joins the rendezvous (world 1: nothing to join; a collective fails after
  /// `timeout`), then gradient buckets of `bucket_mb` and, with `sync_bn`,
  /// SyncBatchNorm for `module`.
  void attach(torch::nn::Module& module, double bucket_mb, bool sync_bn, std::chrono::milliseconds timeout);
  /// Every rank takes rank 0's parameters and buffers.
  void start();
  /// Before each training step: rank 0's buffers to every rank.
  void before_step();
  /// Before backward: the buckets of the trainable parameters go out as their
  /// gradients complete, when the optimizer steps after it (`step_now`).
  void arm(bool step_now, bool stop_requested);
  /// After backward, before the step: waits for the gradients; true when any rank asked to stop.
  bool finish();

  /// This rank's part of an epoch's `order` (nullopt for one process: all of it).
  std::optional<std::vector<std::size_t>> shard(const std::vector<std::size_t>& order, std::size_t batch,
                                                bool equal) const;
  /// Global batches an evaluation of `size` examples runs; every rank joins each.
  std::size_t eval_batches(std::size_t size, std::size_t batch) const;
  /// Every rank's rows of a batch, in rank order (one process: this batch).
  /// `local_batch` pads every rank's part to one shape; `positions` follow the rows.
  MetricBatch gather(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& per_example,
                     std::int64_t classes, std::int64_t local_batch, std::vector<std::size_t>* positions);
  /// Rank 0's answer to a yes/no question, e.g. whether to prune.
  bool agree(bool rank0_answer);

  /// Marks the start of an epoch's communication counters.
  void begin_epoch();
  /// One line about the epoch's communication, or "" for one process.
  std::string epoch_summary(std::size_t steps, double train_seconds) const;

 private:
  template <typename F>
  auto timed(F f);

  DistEnv env_;
  std::unique_ptr<Collective> collective_;
  std::unique_ptr<GradientSync> sync_;
  torch::nn::Module* module_ = nullptr;
  bool has_buffers_ = false;
  std::int64_t other_collectives_ = 0;  ///< metric gathers and buffer broadcasts
  double other_seconds_ = 0;
  std::int64_t grad_ops0_ = 0, other_ops0_ = 0;
  double grad_s0_ = 0, other_s0_ = 0;
};

}  // namespace trex
