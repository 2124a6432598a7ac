#include "trex/train/run_recorder.h"

#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace trex {

void RunRecorder::claim(const std::string& id) {
  run_id_ = id;
  run_dir_ = store_.run_dir(run_id_);
  lock_ = std::make_unique<FolderLock>(run_dir_, "run " + run_id_);  // one writer per run
}

void RunRecorder::create(const RunRecord& record, const std::vector<FlatParam>& params,
                         const std::optional<WeightsRef>& backbone) {
  store_.create_run(record, params);
  claim(record.id);
  if (backbone) store_.add_artifact(run_id_, "backbone_weights", backbone->path, backbone->checksum);
}

void RunRecorder::resume(const std::string& ref, bool restart, const ResumeFrom& from, TrainerState& state) {
  const RunRecord r = store_.run(ref);
  claim(r.id);
  if (r.status == "completed") throw std::runtime_error("run " + run_id_ + " is already completed; nothing to resume");
  const std::int64_t stored = store_.last_epoch(run_id_);
  if (restart) {
    from.drop_checkpoints();
    if (!quiet_)
      std::cout << "run " << run_id_ << ": restarting from epoch 1 (" << stored << " stored epochs dropped)\n";
  } else {
    const bool have_last = fs::exists(from.last_path);
    if (have_last) from.load_last();
    const std::int64_t saved = state.epoch + 1;  // epochs the checkpoint holds
    // Store first, checkpoint second: a kill leaves the store at most one epoch ahead.
    if (stored > saved + 1)
      throw std::runtime_error("run " + run_id_ + " has " + std::to_string(stored) + " stored epochs but " +
                               from.last_path + (have_last ? " holds only " + std::to_string(saved) : " is missing") +
                               " (train.checkpoint.keep: none, or the file was removed); resuming would drop the "
                               "epochs it lacks. Restore the "
                               "checkpoint, or start the run again from epoch 1 with `trex run --resume " +
                               run_id_ + " --restart`");
  }
  // Epochs after the checkpoint are repeated, bit for bit, so their rows go.
  store_.truncate_after(run_id_, state.epoch + 1, directions_);  // stored epochs are 1-based
  store_.set_status(run_id_, RunStatus::Running);
}

void RunRecorder::add_artifact(const std::string& kind, const std::string& file_in_run_dir,
                               const std::string& checksum) {
  store_.add_artifact(run_id_, kind, Store::run_relative(run_id_, file_in_run_dir), checksum);
}

void RunRecorder::on_run_begin() { heartbeat_ = std::make_unique<Heartbeat>(store_.path(), run_id_); }

void RunRecorder::record(std::int64_t epoch, const std::vector<MetricRow>& rows, double lr) {
  store_.record_epoch(run_id_, epoch, rows, directions_, lr);
}

void RunRecorder::on_epoch_end(EpochLog& log) {
  // Store first, checkpoint second: a kill between them leaves an epoch the
  // resumed run repeats identically, never a checkpoint ahead of the store.
  record(log.epoch + 1, log.rows, log.lr);
}

void RunRecorder::on_run_end(const RunEnd& end) {
  heartbeat_.reset();
  const RunStatus status = end.status == "completed"     ? RunStatus::Completed
                           : end.status == "pruned"      ? RunStatus::Pruned
                           : end.status == "interrupted" ? RunStatus::Interrupted
                                                         : RunStatus::Failed;
  store_.set_status(run_id_, status, end.error);
}

}  // namespace trex
