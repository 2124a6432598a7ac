#pragma once
// The experiment store: one SQLite file (WAL) with runs, their flattened
// hyperparameters, per-epoch metrics, per-metric summaries and artifacts.
// Schema and example queries: results/README.md.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trex/common/hash.h"
#include "trex/common/system.h"
#include "trex/store/sqlite.h"

namespace trex {

struct FlatParam;
struct ClassificationReport;

enum class RunStatus { Running, Completed, Failed, Interrupted, Pruned };
const char* status_name(RunStatus s);
RunStatus parse_status(const std::string& s);

struct RunRecord {
  std::string id;
  std::string name;
  std::string experiment;
  std::string status = "running";  ///< as readers see it: stale running runs read as interrupted
  std::string error;
  double start_time = 0, end_time = 0, heartbeat = 0;  ///< unix seconds; end 0 while running
  std::string host;
  std::int64_t pid = 0;
  std::int64_t seed = 0;
  std::string trex_version, torch_version, opencv_version, git_commit;
  std::string spec_yaml, spec_hash;
  std::vector<std::string> class_names;
  std::string main_metric;  ///< e.g. val_accuracy
  std::string sweep_id;     ///< the sweep this run is a trial of, if any
  std::int64_t trial = -1;  ///< its trial number there
};

struct MetricRow {
  std::int64_t epoch;
  std::string split;  ///< train | val | test
  std::string name;
  double value;
  double wall_seconds;
  std::string key() const { return split + "_" + name; }
};

struct SummaryRow {
  std::string key;  ///< canonical <split>_<name>
  double best = 0;
  std::int64_t best_epoch = 0;
  double last = 0, min = 0, max = 0;
  bool higher_is_better = true;
};

struct ParamRow {
  std::string key;
  std::string value;
  std::string type;
};

struct ArtifactRow {
  std::string kind, path, checksum;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 5;
  /// TREX_STORE, else results/trex.db under the current directory.
  static std::string default_path();

  /// Opens or creates the store; a writable open migrates it forward and marks
  /// stale running runs as interrupted.
  explicit Store(const std::string& path, bool read_only = false);
  ~Store();

  const std::string& path() const { return path_; }
  std::string folder() const;
  /// `<store folder>/runs/<run-id>`, created on demand; refuses an invalid id (check_id).
  std::string run_dir(const std::string& run_id, bool create = true) const;
  /// "runs/<run-id>/<file>": how artifacts name a file of a run, relative to the store's folder.
  static std::string run_relative(const std::string& run_id, const std::string& file);
  /// `<store folder>/sweeps/<sweep-id>`, likewise.
  std::string sweep_dir(const std::string& sweep_id, bool create = true) const;
  int schema_version() const;
  sql::Database& db() { return *db_; }
  const sql::Database& db() const { return *db_; }

  /// Applies migrations up to `target` (tests use it to build old stores).
  static void migrate(sql::Database& db, int target);

  /// A fresh, globally unique, time-sortable run id.
  static std::string new_run_id();

  void create_run(const RunRecord& run, const std::vector<FlatParam>& params);
  /// One transaction: the epoch's metrics, updated summaries, heartbeat.
  void record_epoch(const std::string& run_id, std::int64_t epoch, const std::vector<MetricRow>& rows,
                    const std::map<std::string, bool>& higher_is_better, double lr = 0);
  void heartbeat(const std::string& run_id);
  void set_status(const std::string& run_id, RunStatus status, const std::string& error = "");
  /// Drops epochs after `epoch` (a resumed run repeats them) and rebuilds summaries.
  void truncate_after(const std::string& run_id, std::int64_t epoch,
                      const std::map<std::string, bool>& higher_is_better);
  void add_artifact(const std::string& run_id, const std::string& kind, const std::string& path,
                    const std::string& checksum);
  /// The last trained epoch stored for the run (1-based; 0: none).
  std::int64_t last_epoch(const std::string& run_id) const;

  /// Records a re-evaluation of a trained run (not a new training run); returns its id.
  std::int64_t add_evaluation(const std::string& run_id, const std::string& checkpoint, const std::string& source,
                              const std::map<std::string, double>& metrics, const ClassificationReport& report);

  std::vector<RunRecord> runs() const;
  /// A run id, `run:NAME` or NAME (the latest completed run of that name).
  RunRecord run(const std::string& ref) const;
  std::vector<MetricRow> metrics(const std::string& run_id) const;
  std::vector<SummaryRow> summaries(const std::string& run_id) const;
  std::vector<ParamRow> params(const std::string& run_id) const;
  std::vector<ArtifactRow> artifacts(const std::string& run_id) const;
  std::vector<std::pair<std::int64_t, double>> learning_rates(const std::string& run_id) const;

  /// Marks running runs whose heartbeat is too old or whose process on this
  /// host is gone as interrupted. Returns how many.
  int mark_stale_runs();
  static constexpr double kStaleSeconds = 300;

 private:
  RunRecord read_run(sql::Statement& s) const;
  void rebuild_summaries(const std::string& run_id, const std::map<std::string, bool>& higher_is_better);

  std::string path_;
  bool read_only_;
  std::unique_ptr<sql::Database> db_;
};

/// The checkpoint file a reference names: `RUN@best`, `RUN@last`, or `RUN`
/// (best where it exists, else last); RUN as Store::run takes it.
std::string resolve_checkpoint(const Store& store, const std::string& ref);

/// Run and sweep ids become folder names: 1-128 of [A-Za-z0-9._-], not "." or "..".
bool valid_id(const std::string& id);
/// Throws naming `kind` ("run", "sweep") and the id when it is not valid_id.
void check_id(const std::string& kind, const std::string& id);

/// True when a run with this heartbeat, host and pid cannot be running: the
/// heartbeat is older than Store::kStaleSeconds, or its pid is gone on this host.
bool run_gone(double heartbeat, const std::string& host, std::int64_t pid);
/// True when this run's record says running but it cannot be (run_gone).
bool is_stale(const RunRecord& r);

}  // namespace trex
