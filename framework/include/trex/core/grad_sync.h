#pragma once
// What DistributedDataParallel does around backward, on trex's Collective:
// parameters and buffers start as rank 0's, and gradients are averaged in a
// few flat buckets (one collective per ~25 MB, not one per tensor).
#include <vector>

#include <torch/nn/module.h>

#include "trex/core/dist.h"

namespace trex {

/// Copies rank 0's parameters and buffers into every rank's `module`.
void broadcast_state(Collective& c, torch::nn::Module& module, bool buffers_only = false);

class GradientSync {
 public:
  explicit GradientSync(Collective& c, std::size_t bucket_bytes = 25u << 20) : c_(c), bucket_bytes_(bucket_bytes) {}
  /// Replaces each parameter's gradient by its mean over the ranks and ORs
  /// `stop` across them, in the same collectives; true when any rank asked to
  /// stop. Parameters without a gradient (unused by the forward pass, the same
  /// on every rank) are skipped.
  bool average(const std::vector<at::Tensor>& params, bool stop);
  std::int64_t collectives() const { return collectives_; }
  double seconds() const { return seconds_; }  ///< time spent in gradient collectives

 private:
  Collective& c_;
  std::size_t bucket_bytes_;
  std::int64_t collectives_ = 0;
  double seconds_ = 0;
};

/// A rank's share of one pass over a set in `order`, cut into global batches of
/// `batch` examples: each rank takes its contiguous part of every global batch.
/// Training (`equal`) drops the ragged examples so every rank's part has the
/// same size (DistributedSampler's drop); evaluation keeps every example, with
/// parts of ceil(size / world).
std::vector<std::size_t> shard_order(const std::vector<std::size_t>& order, std::size_t batch, int rank, int world, bool equal);

}  // namespace trex
