#include "trex/train/early_stopping.h"

namespace trex {

bool improved(double value, double best, bool higher_is_better, double min_delta) {
  return higher_is_better ? value > best + min_delta : value < best - min_delta;
}

void EarlyStopping::on_epoch_end(EpochLog& log) {
  if (!o_.enabled || !log.holds(o_.monitor)) return;  // patience counts judged epochs
  const double v = log.value(o_.monitor);
  if (log.epoch <= first_epoch_ || improved(v, state_.stop_best, higher_, o_.min_delta)) {
    state_.stop_best = v;
    state_.bad_epochs = 0;
  } else if (++state_.bad_epochs > o_.patience) {
    log.stop = true;
    log.stop_reason =
        "early stopping: " + o_.monitor + " did not improve for " + std::to_string(o_.patience) + " epochs";
  }
}

}  // namespace trex
