#pragma once
// `trex sweep`: draws configurations, runs each trial as its own `trex run`
// process (so a crash takes down one trial, not the sweep), records every
// trial in the store, and picks up a killed sweep where the store says it was.
#include <functional>
#include <string>
#include <vector>

#include "trex/store/store.h"

namespace trex {

class Registry;
struct SweepConfig;

struct SweepRunOptions {
  std::string spec_path;
  std::vector<std::string> sets;  ///< --set overrides of the base spec
  bool resume = false;
  std::string resume_id;  ///< empty with resume: the latest sweep of this spec
  std::int64_t shard_index = 0, shard_count = 1;
  std::string trial_exe;  ///< the executable that runs `run SPEC ... --trial ID:N`
  std::vector<std::string> plugin_paths;
  std::function<bool()> should_stop;
  /// After should_stop, each trial gets SIGTERM; one still alive this long after gets SIGKILL.
  double stop_grace_seconds = 30;
  bool quiet = false;
};

struct SweepOutcome {
  std::string sweep_id;
  std::string state;  ///< completed | interrupted
  std::int64_t completed = 0, failed = 0, pruned = 0;
};

SweepOutcome run_sweep(const SweepRunOptions& options, const Registry& registry, Store& store);

/// Throws (naming the key and the file) unless every parameter key of `config` and both ends of
/// every range make a valid spec of `spec_path` with `sets`: what `trex sweep` checks before any
/// trial starts, and `trex validate` checks of a spec with a sweep: block.
void check_sweep_ranges(const SweepConfig& config, const std::string& spec_path, const std::vector<std::string>& sets,
                        const Registry& registry);

/// "I/N" -> (I, N) with 0 <= I < N; throws naming the fix.
std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text);

}  // namespace trex
