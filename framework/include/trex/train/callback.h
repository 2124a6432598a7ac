#pragma once
// What watches the training loop and reacts to it, as Keras callbacks and
// Lightning hooks do: the trainer owns epochs and steps; recording to the
// store, checkpoints, early stopping, pruning and progress output are
// callbacks, called in the order they were added. Each has its own file and
// its own unit test.
//
// To add one: derive from Callback, override the hooks it needs, and add it
// in Trainer::callbacks() (train/trainer.cpp) at the place its order needs.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "trex/store/store.h"

namespace trex {

/// One finished epoch, as the callbacks see it; earlier callbacks annotate it for later ones.
struct EpochLog {
  std::int64_t epoch = 0;                ///< 0-based
  std::vector<MetricRow> rows;           ///< train and val metrics, stored with the 1-based epoch
  std::map<std::string, double> values;  ///< the same by key: "train_loss", "val_accuracy", ...
  double lr = 0, seconds = 0;
  bool validated = true;  ///< false: train.val_begin/val_interval skipped validation, so no val_* keys
  bool best = false;      ///< set by the checkpointer: the monitored metric improved
  bool stop = false;      ///< set by early stopping: train no further epochs
  std::string stop_reason;

  /// The value of `key`; throws naming the key and what the epoch holds.
  double value(const std::string& key) const;
  /// Whether `key` can be judged this epoch: false for a val_* key after an epoch that did not validate.
  bool holds(const std::string& key) const { return validated || key.rfind("val_", 0) != 0; }
};

/// The log of an epoch from its train and val metrics (by name), stored with `seconds` of wall time.
EpochLog epoch_log(std::int64_t epoch, const std::map<std::string, double>& train,
                   const std::map<std::string, double>& val, double lr, double seconds);

/// How a run ended, for on_run_end.
struct RunEnd {
  std::string status;  ///< completed | failed | interrupted | pruned
  std::string error;
};

class Callback {
 public:
  virtual ~Callback() = default;
  /// After the run record exists (or was reopened), before the first epoch.
  virtual void on_run_begin() {}
  /// After each epoch's training and validation.
  virtual void on_epoch_end(EpochLog&) {}
  /// Once, however the run ended.
  virtual void on_run_end(const RunEnd&) {}
};

/// Callbacks in order; each hook is called on every callback in turn.
class Callbacks {
 public:
  void add(Callback& c) { list_.push_back(&c); }
  void run_begin() {
    for (auto* c : list_) c->on_run_begin();
  }
  void epoch_end(EpochLog& log) {
    for (auto* c : list_) c->on_epoch_end(log);
  }
  void run_end(const RunEnd& end) {
    for (auto* c : list_) c->on_run_end(end);
  }

 private:
  std::vector<Callback*> list_;
};

/// Thrown by a callback (pruning) to end the run as pruned.
struct Pruned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Thrown when a stop signal arrives mid-epoch.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted by a signal; resume with `trex run --resume RUN_ID`") {}
};

}  // namespace trex
