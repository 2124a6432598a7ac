#pragma once
// Checkpoints of a run (ModelCheckpoint): tracks the best value of
// train.checkpoint.monitor, writes best.pt (when it improved) and then last.pt
// after every epoch — best first, so a kill between them repeats the epoch and
// rewrites the same best.pt — and at the end keeps what train.checkpoint.keep says.
#include <functional>
#include <string>

#include "trex/config/train_options.h"
#include "trex/model/checkpoint.h"
#include "trex/train/callback.h"

namespace trex {

class Checkpointer : public Callback {
 public:
  /// Writes the model (and, with `with_optimizer`, the optimizer) and the state to a path.
  using Save = std::function<void(const std::string& path, bool with_optimizer)>;

  /// `state` is the run's (saved with each checkpoint); files go to `dir`.
  Checkpointer(const TrainOptions& options, bool higher_is_better, std::string dir, TrainerState& state, Save save);

  /// `<dir>/<which>.pt`, which = best | last.
  std::string path(const std::string& which) const;
  /// Whether checkpoints are written at all: keep is not none, or early stopping must restore the best.
  bool writes() const;
  void on_epoch_end(EpochLog& log) override;
  /// Which weights score the test set: "best" (best.pt, when it exists) or
  /// "last" (the final weights) — last when early stopping ran without
  /// restore_best, as Keras keeps the final weights then.
  std::string test_weights(bool best_exists) const;
  /// After the run: removes the checkpoints train.checkpoint.keep drops;
  /// `kept(which, path)` hears of each one kept.
  void apply_keep(const std::function<void(const std::string& which, const std::string& path)>& kept) const;

 private:
  TrainOptions o_;
  bool higher_;
  std::string dir_;
  TrainerState& state_;
  Save save_;
};

}  // namespace trex
