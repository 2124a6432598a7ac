#pragma once
// Which images of a dataset form the train, val and test sets of a run:
// seeded, stratified subsamples (never "the first N" of a class-ordered file)
// and held-out fractions, reproducible from the seed. Torch-free.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trex/common/rng.h"
#include "trex/config/spec.h"
#include "trex/plugin/dataset.h"

namespace trex {

struct SampleRef {
  std::string split;  ///< the dataset's native split
  std::size_t index;  ///< index within it
  std::int64_t label;
};

struct SplitPlan {
  std::vector<SampleRef> train, val, test;
  const std::vector<SampleRef>& get(const std::string& name) const;
  /// Images per class of one set, for the record.
  std::vector<std::int64_t> class_counts(const std::string& name, std::size_t classes) const;
};

/// Builds the plan from a dataset's native splits and the host options.
SplitPlan plan_splits(const Dataset& dataset, const DataOptions& options, std::uint64_t seed);

/// Seeded, stratified choice of `count` positions out of `labels` (0: all).
std::vector<std::size_t> stratified_subset(const std::vector<std::int64_t>& labels, std::size_t count,
                                           std::size_t per_class, std::uint64_t seed);

}  // namespace trex
