#pragma once
// `trex run`: builds a resolved spec's parts from plugins, trains, evaluates,
// and records everything in the store. Reads like pytorch/examples cpp/mnist:
// train_one_epoch(), evaluate(), run().
#include <functional>
#include <string>

#include "trex/common/phases.h"
#include "trex/dist/dist.h"
#include "trex/config/spec.h"
#include "trex/plugin/dataset.h"
#include "trex/store/store.h"

namespace trex {

struct RunOptions {
  std::string resume_id;              ///< continue this run from its last checkpoint
  bool restart = false;               ///< with resume_id: start it again from epoch 1, dropping its stored epochs
  bool quiet = false;                 ///< no progress output
  std::function<bool()> should_stop;  ///< polled after every batch (SIGINT / SIGTERM)
  std::string sweep_id;               ///< this run is trial `trial` of that sweep
  std::int64_t trial = -1;
  /// Asked after each stored epoch (1-based) with the run id; a non-empty
  /// reason stops the run as pruned.
  std::function<std::string(const std::string&, std::int64_t)> should_prune;
  DistEnv dist;  ///< this process's rank in a data-parallel run (world 1: alone)
  /// How long a collective waits for the other ranks before the run fails.
  std::chrono::milliseconds dist_timeout{std::chrono::minutes(5)};
  Phases* phases = nullptr;  ///< when set, the run marks its phases on it (trex run --verbose)
};

struct RunResult {
  std::string run_id;
  std::string status;  ///< completed | failed | interrupted | pruned
  std::string error;
  std::string run_dir;
  double test_accuracy = -1;               ///< when the run has a test set and an accuracy metric
  std::shared_ptr<const Dataset> dataset;  ///< the run's dataset, for its report (not read again)
};

/// Trains `spec` and records it in `store`. Errors after the run record exists
/// mark it failed and are reported in the result, not thrown.
RunResult run_experiment(const ResolvedSpec& spec, const Registry& registry, Store& store, const RunOptions& options);

}  // namespace trex
