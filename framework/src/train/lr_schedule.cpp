#include "trex/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace trex {

double lr_at(const OptimizerOptions& opt, const ScheduleOptions& s, std::int64_t epoch, double fraction,
             std::int64_t epochs) {
  const double base = opt.lr;
  const double t = static_cast<double>(epoch) + fraction;  // progress in epochs
  if (s.type == "one_cycle") {
    // torch.optim.lr_scheduler.OneCycleLR with cosine annealing, per step.
    const double total = static_cast<double>(epochs);
    const double rise = std::max(1e-12, s.pct_start * total);
    const double start = base / s.div_factor, end = start / s.final_div_factor;
    auto cosine = [](double from, double to, double pct) { return to + (from - to) * (1 + std::cos(M_PI * pct)) / 2; };
    if (t <= rise) return cosine(start, base, t / rise);
    return cosine(base, end, std::min(1.0, (t - rise) / std::max(1e-12, total - rise)));
  }
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

}  // namespace trex
