#include "trex/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace trex {
namespace {

/// torch.optim.lr_scheduler.OneCycleLR's cosine annealing: `start` to `peak`
/// over pct_start of the run, then to `end`; `t` is progress in epochs.
double one_cycle(const ScheduleOptions& s, double t, std::int64_t epochs, double start, double peak, double end) {
  const double total = static_cast<double>(epochs);
  const double rise = std::max(1e-12, s.pct_start * total);
  auto cosine = [](double from, double to, double pct) { return to + (from - to) * (1 + std::cos(M_PI * pct)) / 2; };
  if (t <= rise) return cosine(start, peak, t / rise);
  return cosine(peak, end, std::min(1.0, (t - rise) / std::max(1e-12, total - rise)));
}

}  // namespace

double lr_at(const OptimizerOptions& opt, const ScheduleOptions& s, std::int64_t epoch, double fraction,
             std::int64_t epochs) {
  const double base = opt.lr;
  const double t = static_cast<double>(epoch) + fraction;  // progress in epochs
  if (s.type == "one_cycle")
    return one_cycle(s, t, epochs, base / s.div_factor, base, base / s.div_factor / s.final_div_factor);
  if (s.warmup_epochs > 0 && t < static_cast<double>(s.warmup_epochs))
    return base * std::max(t, 1e-3) / static_cast<double>(s.warmup_epochs);
  if (s.type == "step") return base * std::pow(s.gamma, static_cast<double>(epoch / s.step_size));
  if (s.type == "multistep") {
    const auto passed =
        std::count_if(s.milestones.begin(), s.milestones.end(), [&](std::int64_t m) { return epoch >= m; });
    return base * std::pow(s.gamma, static_cast<double>(passed));
  }
  if (s.type == "cosine") {
    const double span = std::max(1.0, static_cast<double>(epochs - s.warmup_epochs));
    const double pct = std::clamp((t - static_cast<double>(s.warmup_epochs)) / span, 0.0, 1.0);
    return s.min_lr + (base - s.min_lr) * (1 + std::cos(M_PI * pct)) / 2;
  }
  return base;
}

std::optional<double> momentum_at(const ScheduleOptions& s, std::int64_t epoch, double fraction, std::int64_t epochs) {
  if (s.type != "one_cycle" || !s.cycle_momentum) return std::nullopt;
  const double t = static_cast<double>(epoch) + fraction;
  return one_cycle(s, t, epochs, s.max_momentum, s.base_momentum, s.max_momentum);
}

}  // namespace trex
