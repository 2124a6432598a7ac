#pragma once
// Training progress: a live bar per epoch on a terminal (batches, ETA, running
// loss, img/s), one plain summary line per epoch everywhere.
#include <chrono>
#include <map>
#include <string>

#include "trex/train/callback.h"

namespace trex {

class Progress {
 public:
  explicit Progress(bool quiet);
  void start_epoch(std::int64_t epoch, std::int64_t epochs, std::size_t batches);
  void update(std::size_t batch, std::size_t images, double loss);
  /// Prints the epoch's summary line; `train_seconds` covers the training pass only.
  void end_epoch(const std::map<std::string, double>& metrics, double lr, double seconds, std::size_t train_images,
                 bool best);
  /// Seconds the training pass spent waiting for batches (shown as a share).
  void set_data_wait(double seconds) { data_wait_ = seconds; }
  /// Images per second of the last training pass.
  double images_per_second() const { return images_per_second_; }

 private:
  bool quiet_, tty_;
  std::int64_t epoch_ = 0, epochs_ = 0;
  std::size_t batches_ = 0, images_ = 0;
  double loss_sum_ = 0;
  std::size_t loss_count_ = 0;
  double images_per_second_ = 0;
  double data_wait_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_, train_end_;
};

/// The epoch's summary line, after it is stored and checkpointed (it says whether it was the best).
class EpochLine : public Callback {
 public:
  EpochLine(Progress& progress, std::size_t train_images) : progress_(progress), train_images_(train_images) {}
  void on_epoch_end(EpochLog& log) override {
    progress_.end_epoch(log.values, log.lr, log.seconds, train_images_, log.best);
  }

 private:
  Progress& progress_;
  std::size_t train_images_;
};

}  // namespace trex
