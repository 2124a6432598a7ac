#include "trex/sweep/pruner.h"

#include <algorithm>

#include <fmt/format.h>

namespace trex {

std::string median_prune(double best_so_far, const std::vector<double>& completed_at_epoch, std::int64_t epoch,
                         const PrunerConfig& config, bool maximize) {
  if (epoch <= config.warmup_epochs) return "";
  if (static_cast<std::int64_t>(completed_at_epoch.size()) < config.startup_trials) return "";
  std::vector<double> v = completed_at_epoch;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  const bool worse = maximize ? best_so_far < median : best_so_far > median;
  if (!worse) return "";
  return fmt::format(
      "median rule at epoch {}: best so far {:.6g} is worse than the median {:.6g} of {} completed trials", epoch,
      best_so_far, median, n);
}

bool is_asha_rung(std::int64_t epoch, const PrunerConfig& config) {
  for (std::int64_t rung = config.min_epochs; rung <= epoch; rung *= config.reduction_factor)
    if (rung == epoch) return true;
  return false;
}

std::string asha_prune(double value, const std::vector<double>& others_at_rung, std::int64_t epoch,
                       const PrunerConfig& config, bool maximize) {
  if (epoch <= config.warmup_epochs || !is_asha_rung(epoch, config)) return "";
  std::vector<double> all = others_at_rung;
  all.push_back(value);
  std::sort(all.begin(), all.end());
  if (maximize) std::reverse(all.begin(), all.end());
  // Optuna's rule: promotable if at least as good as the k-th best, k = n / eta.
  const std::size_t k = std::max<std::size_t>(1, all.size() / static_cast<std::size_t>(config.reduction_factor));
  const double threshold = all[k - 1];
  const bool promoted = maximize ? value >= threshold : value <= threshold;
  if (promoted) return "";
  return fmt::format("ASHA rung at epoch {}: {:.6g} is not in the top {} of {} trials (threshold {:.6g})", epoch, value,
                     k, all.size(), threshold);
}

}  // namespace trex
