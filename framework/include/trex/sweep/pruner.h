#pragma once
// Whether a sweep trial should stop early, from its own metric and the other
// trials' values at the same epoch. Pure functions; the trial asks after each
// epoch it has stored. An empty string means "go on", otherwise the reason.
#include <cstdint>
#include <string>
#include <vector>

#include "trex/sweep/sweep_config.h"

namespace trex {

/// Median rule (Optuna's MedianPruner): after the warm-up, stop when the
/// trial's best value so far is worse than the median of the completed trials'
/// values at this epoch, once `startup_trials` of them reported it.
std::string median_prune(double best_so_far, const std::vector<double>& completed_at_epoch, std::int64_t epoch,
                         const PrunerConfig& config, bool maximize);

/// Asynchronous successive halving: at rung epochs min_epochs * eta^k a trial
/// goes on only if it is in the top 1/eta of every trial that reached the rung.
std::string asha_prune(double value, const std::vector<double>& others_at_rung, std::int64_t epoch,
                       const PrunerConfig& config, bool maximize);

/// True when `epoch` (1-based) is an ASHA rung.
bool is_asha_rung(std::int64_t epoch, const PrunerConfig& config);

}  // namespace trex
