#pragma once
// The `sweep:` block of a spec: search space, method, objective, pruner.
// Read once, validated with every problem reported by its dotted key.
#include <cstdint>
#include <string>
#include <vector>

#include "trex/registry/node.h"

namespace trex {

/// One searched parameter. Values are held in an internal coordinate: the
/// category index for choice, the value itself for uniform / int_uniform, and
/// its natural log for log_uniform.
struct SearchParam {
  enum class Kind { Choice, Uniform, LogUniform, IntUniform } kind = Kind::Uniform;
  std::string key;                   ///< dotted spec key, e.g. train.optimizer.lr
  std::vector<std::string> choices;  ///< YAML scalars as written, for Choice
  double low = 0, high = 1;          ///< bounds as written (inclusive)

  /// The internal coordinate's range.
  double internal_low() const;
  double internal_high() const;
  /// Internal coordinate -> the `--set` value text (rounded for int, exp for log).
  std::string to_text(double internal) const;
  /// Internal coordinate -> the value as a number (category index for choice).
  double to_value(double internal) const;
};

struct SweepObjective {
  std::string metric = "val_accuracy";  ///< <split>_<name>
  bool maximize = true;
  std::string summary = "best";  ///< best | last
};

struct PrunerConfig {
  std::string method = "none";  ///< none | median | asha
  std::int64_t warmup_epochs = 1;
  std::int64_t startup_trials = 3;    ///< median: completed trials needed before pruning
  std::int64_t min_epochs = 1;        ///< asha: first rung
  std::int64_t reduction_factor = 3;  ///< asha: keep the top 1/eta at each rung
};

struct SweepConfig {
  std::string method = "random";  ///< grid | random | tpe
  std::int64_t trials = 10;       ///< configurations, for random / tpe (grid: the grid's size)
  std::uint64_t seed = 0;
  std::vector<SearchParam> params;
  SweepObjective objective;
  PrunerConfig pruner;
  std::int64_t parallel = 1;
  std::vector<std::int64_t> seeds;  ///< empty: the spec's own seed, one run per configuration
  std::int64_t tpe_startup_trials = 10;
  std::int64_t tpe_candidates = 24;

  /// Number of configurations the sweep will run (grid: product of choices).
  std::int64_t configurations() const;
  /// Runs per configuration (seeds, at least 1).
  std::int64_t repeats() const { return seeds.empty() ? 1 : static_cast<std::int64_t>(seeds.size()); }
};

/// Parses a `sweep:` node; throws SpecError listing every problem with its key.
SweepConfig parse_sweep(const Node& sweep, const std::string& file);

}  // namespace trex
