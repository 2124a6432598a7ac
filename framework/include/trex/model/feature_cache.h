#pragma once
// Frozen-feature cache: when a composite's backbone cannot change during
// training and a set's preprocessing draws no random numbers, each image's
// backbone features are computed once and the head trains on them. In memory
// for one run, or on disk (shared by the trials of a sweep) keyed by
// everything the features depend on.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "trex/data/loader.h"

namespace trex {

/// A set's features and labels, in the set's order.
struct FeatureSet {
  at::Tensor features;  ///< [N, ...]
  at::Tensor targets;   ///< [N] int64
};

/// Where FeatureSets come from: `dir` empty keeps them in memory only.
class FeatureCache {
 public:
  explicit FeatureCache(std::string dir) : dir_(std::move(dir)) {}
  /// The features for `key`: held, or read from the key's file, or made by
  /// `compute` (and written there). An exclusive lock on the key makes
  /// parallel runs compute it once; the others wait and read the file.
  /// `source` says which: memory, disk or computed.
  const FeatureSet& get(const std::string& key, const std::function<FeatureSet()>& compute,
                        std::string* source = nullptr);
  /// The file a key's features live in (under dir).
  std::string file_of(const std::string& key) const;

 private:
  std::string dir_;
  std::map<std::string, FeatureSet> held_;
};

/// One pass over cached features, batched like BatchLoader over the same set:
/// the same order (BatchLoader::order) and the same batch boundaries.
class CachedBatches {
 public:
  /// `order`: positions to visit (a data-parallel rank's shard); unset: all, in BatchLoader::order's order.
  CachedBatches(const FeatureSet& set, std::int64_t batch_size, bool shuffle, std::uint64_t seed, std::int64_t epoch,
                std::uint64_t stream, std::optional<std::vector<std::size_t>> order = std::nullopt);
  std::size_t batches() const { return batches_; }
  std::optional<Batch> next();

 private:
  const FeatureSet& set_;
  std::size_t batch_size_, batches_, next_ = 0;
  std::vector<std::size_t> order_;
};

}  // namespace trex
