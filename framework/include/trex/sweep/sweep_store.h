#pragma once
// Sweeps and their trials in the experiment store (tables sweeps, trials;
// runs.sweep_id / runs.trial link a trial's run). Every change is one short
// transaction, so parallel trial processes and the sweep never lock each
// other out for long.
#include <optional>
#include <string>
#include <vector>

#include "trex/store/store.h"
#include "trex/sweep/sweep_config.h"

namespace trex {

struct SweepRecord {
  std::string id, key, name, spec_path, spec_yaml, method;
  std::string config;             ///< the sweep block as YAML
  std::string state = "running";  ///< running | completed | interrupted | failed
  double created = 0, updated = 0;
  std::string host;
  std::int64_t pid = 0;
  std::int64_t shard_index = 0, shard_count = 1;
};

struct TrialRecord {
  std::string sweep_id;
  std::int64_t number = 0;  ///< config * repeats + seed position
  std::int64_t config = 0;
  std::optional<std::int64_t> seed;
  std::string params;             ///< JSON object: dotted key -> value text
  std::string point;              ///< JSON array: internal coordinates (the sampler's history)
  std::string state = "pending";  ///< pending | running | completed | failed | pruned | interrupted
  std::string run_id;
  std::optional<double> objective;
  std::string reason;
  std::int64_t attempts = 0;

  /// The searched values in order: (dotted key, value text).
  std::vector<std::pair<std::string, std::string>> values() const;
  /// "key=value key=value".
  std::string label() const;
};

void create_sweep(Store& store, const SweepRecord& sweep);
std::optional<SweepRecord> find_sweep(const Store& store, const std::string& id);
/// The newest sweep with this key (same resolved spec), else of this spec file.
std::optional<SweepRecord> latest_sweep(const Store& store, const std::string& key, const std::string& spec_path);
std::vector<SweepRecord> list_sweeps(const Store& store);
void set_sweep_state(Store& store, const std::string& id, const std::string& state);
/// Marks this process as the one driving the sweep (resume takes it over).
void claim_sweep(Store& store, const std::string& id);

void add_trial(Store& store, const TrialRecord& trial);
std::vector<TrialRecord> list_trials(const Store& store, const std::string& sweep_id);
std::optional<TrialRecord> find_trial(const Store& store, const std::string& sweep_id, std::int64_t number);
void finish_trial(Store& store, const std::string& sweep_id, std::int64_t number, const std::string& state,
                  std::optional<double> objective, const std::string& reason);

/// The objective's value for a run (its summary `best` or `last`), if recorded.
std::optional<double> run_objective(const Store& store, const std::string& run_id, const SweepObjective& objective);

/// The pruner's verdict for a trial's run after `epoch` (1-based) was stored;
/// empty to go on, else the reason; `config` is the sweep's (stored_sweep_config).
std::string trial_prune_reason(const Store& store, const std::string& sweep_id, const SweepConfig& config,
                               const std::string& run_id, std::int64_t epoch);

/// The sweep config a stored sweep was started with.
SweepConfig stored_sweep_config(const SweepRecord& sweep);

}  // namespace trex
