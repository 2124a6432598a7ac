#pragma once
// `trex merge`: folds stores written by sweep shards (or separate machines)
// into one. Run ids are globally unique, so a run already present is the same
// run and is skipped (merging twice changes nothing); shards of one sweep
// (same key) become one sweep again; evaluation ids are renumbered.
#include <string>
#include <vector>

#include "trex/store/store.h"

namespace trex {

struct MergeReport {
  std::int64_t runs_added = 0, runs_present = 0, sweeps_added = 0, sweeps_joined = 0, trials_added = 0;
};

MergeReport merge_store(Store& into, const std::string& source);

}  // namespace trex
