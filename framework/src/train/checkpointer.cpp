#include "trex/train/checkpointer.h"

#include <filesystem>

#include "trex/common/fault.h"
#include "trex/train/early_stopping.h"

namespace fs = std::filesystem;

namespace trex {

Checkpointer::Checkpointer(const TrainOptions& options, bool higher_is_better, std::string dir, TrainerState& state,
                           Save save)
    : o_(options), higher_(higher_is_better), dir_(std::move(dir)), state_(state), save_(std::move(save)) {}

std::string Checkpointer::path(const std::string& which) const { return (fs::path(dir_) / (which + ".pt")).string(); }

bool Checkpointer::writes() const {
  return o_.checkpoint.keep != "none" || (o_.early_stopping.enabled && o_.early_stopping.restore_best);
}

void Checkpointer::on_epoch_end(EpochLog& log) {
  if (log.holds(o_.checkpoint.monitor)) {  // an epoch without validation keeps the best as it was
    const double monitored = log.value(o_.checkpoint.monitor);
    log.best = state_.best_epoch < 0 || improved(monitored, state_.best_value, higher_);
    if (log.best) state_.best_value = monitored, state_.best_epoch = log.epoch;
  }
  state_.epoch = log.epoch;
  if (!writes()) return;
  if (log.best) {
    save_(path("best"), false);
    fault_point("between_checkpoints", log.epoch + 1);
  }
  save_(path("last"), true);
}

std::string Checkpointer::test_weights(bool best_exists) const {
  if (!best_exists) return "last";
  return o_.early_stopping.enabled && !o_.early_stopping.restore_best ? "last" : "best";
}

void Checkpointer::apply_keep(const std::function<void(const std::string&, const std::string&)>& kept) const {
  for (const char* which : {"best", "last"}) {
    const std::string file = path(which);
    if (!fs::exists(file)) continue;
    if (o_.checkpoint.keep == "both" || o_.checkpoint.keep == which)
      kept(which, file);
    else
      fs::remove(file);
  }
}

}  // namespace trex
