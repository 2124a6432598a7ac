#pragma once
// The store's schema as forward-only migrations: migration k (0-based) takes a
// store from user_version k to k + 1. Documented in results/README.md.
#include <string>
#include <vector>

namespace trex {

const std::vector<std::string>& schema_migrations();

/// The columns of a run's record, in RunRecord's order (Store::read_run reads them so).
constexpr const char* kRunColumns =
    "id, name, experiment, status, error, start_time, end_time, heartbeat, host, pid, seed, trex_version, "
    "torch_version, opencv_version, git_commit, spec_yaml, spec_hash, class_names, main_metric, sweep_id, trial";

}  // namespace trex
