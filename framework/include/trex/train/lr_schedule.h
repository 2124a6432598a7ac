#pragma once
// Learning rate as a pure function of training progress: no scheduler state to
// save, so a resumed run continues on exactly the same curve.
#include <optional>

#include "trex/config/train_options.h"

namespace trex {

/// lr at `epoch` (0-based) plus `fraction` of it done, for a run of `epochs`.
double lr_at(const OptimizerOptions& opt, const ScheduleOptions& s, std::int64_t epoch, double fraction,
             std::int64_t epochs);
/// one_cycle with cycle_momentum: the momentum (adam: beta1) at the same
/// point, moving against the lr; nullopt: the optimizer's own stays.
std::optional<double> momentum_at(const ScheduleOptions& s, std::int64_t epoch, double fraction, std::int64_t epochs);

}  // namespace trex
