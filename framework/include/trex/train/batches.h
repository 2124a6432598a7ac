#pragma once
// Where each pass of an epoch gets its batches: images through the loader,
// or, when a composite's frozen backbone cannot change, its features computed
// once and cached (model/feature_cache.h) — with the same order, batch
// boundaries and data-parallel shards either way.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "trex/data/loader.h"
#include "trex/dist/data_parallel.h"
#include "trex/model/experiment.h"
#include "trex/model/feature_cache.h"
#include "trex/model/feature_split.h"
#include "trex/model/precision.h"

namespace trex {

/// One pass's batches.
struct Pass {
  std::unique_ptr<BatchLoader> loader;
  std::unique_ptr<CachedBatches> cached;
  std::size_t batches() const { return loader ? loader->batches() : cached->batches(); }
  std::optional<Batch> next() { return loader ? loader->next() : cached->next(); }
  /// True when the batches hold frozen features, not images.
  bool features() const { return cached != nullptr; }
};

class Batches {
 public:
  /// Notes a disk cache file the run used: (kind, path under the store folder, "computed" | "reused").
  using Note = std::function<void(const std::string&, const std::string&, const std::string&)>;

  Batches(const ResolvedSpec& spec, const Experiment& parts, torch::nn::Module& module, const Precision& precision,
          const DataParallel& dp, std::function<bool()> should_stop, bool quiet);

  /// Decides train.feature_cache: auto caches in memory for a run and on disk
  /// (under `store_folder`) for a sweep's trial, when the features cannot change
  /// and fit train.feature_cache_max_gb; memory and disk, asked for, fail when they can change.
  void choose_cache(bool in_sweep, const std::string& store_folder);
  /// memory | disk | off
  const std::string& cache_used() const { return cache_used_; }
  void set_note(Note note) { note_ = std::move(note); }
  /// Times reading or computing cached features as the phase "features".
  void set_phases(Phases* phases) { phases_ = phases; }

  /// The batches of `set` for one pass; `shuffle` marks training (the order of
  /// `epoch`); evaluation passes are cached when their pipeline draws no random numbers.
  Pass pass(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline, bool shuffle,
            std::int64_t epoch, std::uint64_t stream);

 private:
  std::string key(const char* name, const std::vector<SampleRef>& set, const char* augment) const;
  FeatureSet compute(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline,
                     std::uint64_t stream);
  bool fits_budget() const;

  const ResolvedSpec& spec_;
  const TrainOptions& t_;
  const Experiment& parts_;
  torch::nn::Module& module_;
  FeatureSplit* split_;  ///< the composite's frozen front, when it has one
  const Precision& precision_;
  const DataParallel& dp_;
  std::function<bool()> should_stop_;
  bool quiet_;
  std::unique_ptr<FeatureCache> cache_;
  std::string cache_used_ = "off";
  std::string store_folder_;
  bool cache_train_ = false, cache_eval_ = false;
  std::map<std::string, std::string> keys_;  ///< set name -> its cache key
  Note note_;
  Phases* phases_ = nullptr;
};

}  // namespace trex
