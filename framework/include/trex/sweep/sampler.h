#pragma once
// Where the next sweep configuration comes from: the grid's next cell, a
// seeded random draw, or a tree-structured Parzen estimator (TPE, as in
// Hyperopt and Optuna) fitted to the finished configurations. Pure functions
// of (space, seed, configuration index, history), so a resumed sweep
// continues exactly, and the tests drive them on known functions directly.
#include <cstdint>
#include <vector>

#include "trex/sweep/sweep_config.h"

namespace trex {

/// One value per parameter, in SearchParam's internal coordinates.
using Point = std::vector<double>;

/// A finished configuration: where it was, and its loss (lower is better).
struct Observation {
  Point x;
  double loss;
};

struct TpeOptions {
  std::int64_t startup_trials = 10;  ///< random draws before the model is used
  std::int64_t candidates = 24;      ///< draws from l(x) scored by l(x) / g(x)
};

/// The grid cell of `index` (row-major over parameters in their order).
Point grid_point(const std::vector<SearchParam>& space, std::int64_t index);
/// A uniform draw in internal coordinates (log-uniform in value space).
Point random_point(const std::vector<SearchParam>& space, std::uint64_t seed, std::int64_t index);
Point tpe_point(const std::vector<SearchParam>& space, const std::vector<Observation>& history, std::uint64_t seed,
                std::int64_t index, const TpeOptions& options = {});

/// The sweep's method applied to configuration `index`.
Point sample(const SweepConfig& config, std::int64_t index, const std::vector<Observation>& history);

}  // namespace trex
