#pragma once
// Early stopping (Keras's EarlyStopping): stop when the monitored metric has
// not improved by more than min_delta for `patience` epochs. Its counters live
// in TrainerState, so a resumed run stops exactly where the uninterrupted one would.
#include "trex/config/train_options.h"
#include "trex/model/checkpoint.h"
#include "trex/train/callback.h"

namespace trex {

/// True when `value` is better than `best` by more than `min_delta`.
bool improved(double value, double best, bool higher_is_better, double min_delta = 0);

class EarlyStopping : public Callback {
 public:
  /// `state` is the run's, shared with the checkpointer that saves it; `first_epoch` (0-based) is the
  /// first the monitor is recorded (train.val_begin's, for a val_* monitor).
  EarlyStopping(const EarlyStoppingOptions& options, bool higher_is_better, TrainerState& state,
                std::int64_t first_epoch = 0)
      : o_(options), higher_(higher_is_better), state_(state), first_epoch_(first_epoch) {}
  void on_epoch_end(EpochLog& log) override;

 private:
  EarlyStoppingOptions o_;
  bool higher_;
  TrainerState& state_;
  std::int64_t first_epoch_;
};

}  // namespace trex
