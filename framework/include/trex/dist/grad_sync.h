#pragma once
// What DistributedDataParallel does around backward, on trex's Collective:
// parameters and buffers start as rank 0's, and gradients are averaged in a
// few flat buckets (one collective per ~25 MB, not one per tensor), each
// launched from a hook on the parameters' gradient accumulators as soon as
// backward has produced all of its gradients, so communication overlaps the
// rest of backward.
#include <functional>
#include <memory>
#include <vector>

#include <torch/nn/module.h>

#include "trex/dist/dist.h"

namespace torch::autograd {
struct Node;
}

namespace trex {

/// Copies rank 0's parameters and buffers into every rank's `module`.
void broadcast_state(Collective& c, torch::nn::Module& module, bool buffers_only = false);

class GradientSync {
 public:
  explicit GradientSync(Collective& c, std::size_t bucket_bytes = 25u << 20) : c_(c), bucket_bytes_(bucket_bytes) {}
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// Before a backward pass: with `sync` (the optimizer steps after it) the
  /// buckets of `trainable` are averaged as their gradients complete, and
  /// `stop` rides along in the first. The hooks follow `trainable` when it
  /// changes (a backbone unfreezes).
  void arm(const std::vector<at::Tensor>& trainable, bool sync, bool stop);
  /// After that backward: launches what backward did not reach (parameters
  /// without a gradient are left out: the graph is the same on every rank),
  /// waits for every bucket and writes the means into the gradients. True
  /// when any rank asked to stop.
  bool finish();

  std::int64_t collectives() const { return collectives_; }
  /// Seconds finish() waited: communication backward did not hide.
  double exposed_seconds() const { return exposed_seconds_; }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  ///< indices into params_
    std::size_t ready = 0;
    bool launched = false;
    std::vector<std::size_t> sent;  ///< the members whose gradients went out
    at::Tensor flat;
    std::function<void()> wait;
  };
  void rebuild(const std::vector<at::Tensor>& trainable);
  void on_gradient(std::size_t index);
  void launch(Bucket& bucket);

  Collective& c_;
  std::size_t bucket_bytes_;
  std::vector<at::Tensor> params_;
  std::vector<std::size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, std::uintptr_t>> hooks_;
  bool armed_ = false, stop_ = false, any_stop_ = false;
  std::int64_t collectives_ = 0;
  double exposed_seconds_ = 0;
};

/// A rank's share of one pass over a set in `order`, cut into global batches of
/// `batch` examples: each rank takes its contiguous part of every global batch.
/// Training (`equal`) drops the ragged examples so every rank's part has the
/// same size (DistributedSampler's drop); evaluation keeps every example, with
/// parts of ceil(size / world).
std::vector<std::size_t> shard_order(const std::vector<std::size_t>& order, std::size_t batch, int rank, int world,
                                     bool equal);

}  // namespace trex
