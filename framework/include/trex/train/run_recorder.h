#pragma once
// The run's record in the store, written by rank 0 only: created with every
// hyperparameter and the facts of the run (model size, data sizes, where it
// ran), or reopened to resume; one transaction per epoch; a heartbeat while it
// runs; its final status. It holds the run folder's lock, so two processes
// never write one run.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trex/common/folder_lock.h"
#include "trex/config/spec.h"
#include "trex/model/checkpoint.h"
#include "trex/store/store.h"
#include "trex/train/callback.h"
#include "trex/train/heartbeat.h"

namespace trex {

/// How to continue from a checkpoint: load last.pt into the run's state, or drop the checkpoints (--restart).
struct ResumeFrom {
  std::string last_path;
  std::function<void()> load_last;
  std::function<void()> drop_checkpoints;
};

class RunRecorder : public Callback {
 public:
  /// `directions`: metric name -> higher is better, for the summaries.
  RunRecorder(Store& store, std::map<std::string, bool> directions, bool quiet)
      : store_(store), directions_(std::move(directions)), quiet_(quiet) {}

  /// A new run record with `params`; locks its folder.
  void create(const RunRecord& record, const std::vector<FlatParam>& params, const std::optional<WeightsRef>& backbone);
  /// Reopens run `ref` to continue it from `from` (or from scratch with
  /// `restart`): refuses a completed run, and a checkpoint more than the one
  /// epoch behind the store a kill can leave; drops the epochs it repeats.
  void resume(const std::string& ref, bool restart, const ResumeFrom& from, TrainerState& state);

  const std::string& run_id() const { return run_id_; }
  const std::string& run_dir() const { return run_dir_; }
  /// One epoch's rows (1-based `epoch`) in one transaction, summaries updated.
  void record(std::int64_t epoch, const std::vector<MetricRow>& rows, double lr = 0);
  /// Records a file under the run's folder as an artifact.
  void add_artifact(const std::string& kind, const std::string& file_in_run_dir, const std::string& checksum);
  Store& store() { return store_; }

  void on_run_begin() override;
  void on_epoch_end(EpochLog& log) override;
  void on_run_end(const RunEnd& end) override;

 private:
  /// Takes run `id` for this process: its folder and the folder's lock.
  void claim(const std::string& id);

  Store& store_;
  std::map<std::string, bool> directions_;
  bool quiet_;
  std::string run_id_, run_dir_;
  std::unique_ptr<FolderLock> lock_;
  std::unique_ptr<Heartbeat> heartbeat_;
};

}  // namespace trex
