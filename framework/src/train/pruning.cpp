#include "trex/train/pruning.h"

namespace trex {

void Pruning::on_epoch_end(EpochLog& log) {
  std::string reason;
  if (ask_ && dp_.writer()) reason = ask_(run_id_, log.epoch + 1);
  if (dp_.agree(!reason.empty()) && reason.empty()) reason = "pruned (decided by rank 0)";
  if (!reason.empty()) throw Pruned(reason);
}

}  // namespace trex
