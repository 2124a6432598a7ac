#pragma once
// A sweep's pruner, asked after each stored epoch by rank 0 (whose answer
// every rank follows): a non-empty reason ends the run as pruned.
#include <functional>
#include <string>

#include "trex/dist/data_parallel.h"
#include "trex/train/callback.h"

namespace trex {

class Pruning : public Callback {
 public:
  using Ask = std::function<std::string(const std::string& run_id, std::int64_t epoch)>;
  /// `run_id` is read when asked (it is set once the run record exists).
  Pruning(Ask ask, const std::string& run_id, DataParallel& dp) : ask_(std::move(ask)), run_id_(run_id), dp_(dp) {}
  void on_epoch_end(EpochLog& log) override;

 private:
  Ask ask_;
  const std::string& run_id_;
  DataParallel& dp_;
};

}  // namespace trex
