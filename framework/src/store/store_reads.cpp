#include "trex/store/store.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "trex/common/json.h"
#include "trex/store/schema.h"

namespace fs = std::filesystem;

namespace trex {

// Reading runs and their rows back (the write side is store.cpp).

RunRecord Store::read_run(sql::Statement& s) const {
  RunRecord r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.experiment = s.text(2);
  r.status = s.text(3);
  r.error = s.text(4);
  r.start_time = s.real(5);
  r.end_time = s.is_null(6) ? 0 : s.real(6);
  r.heartbeat = s.real(7);
  r.host = s.text(8);
  r.pid = s.integer(9);
  r.seed = s.integer(10);
  r.trex_version = s.text(11);
  r.torch_version = s.text(12);
  r.opencv_version = s.text(13);
  r.git_commit = s.text(14);
  r.spec_yaml = s.text(15);
  r.spec_hash = s.text(16);
  if (!s.is_null(17)) {
    auto j = nlohmann::json::parse(s.text(17), nullptr, false);
    if (j.is_array())
      for (const auto& n : j) r.class_names.push_back(n.is_string() ? n.get<std::string>() : json_text(n));
  }
  r.main_metric = s.text(18);
  r.sweep_id = s.text(19);
  r.trial = s.is_null(20) ? -1 : s.integer(20);
  if (is_stale(r)) r.status = "interrupted";
  return r;
}

std::vector<RunRecord> Store::runs() const {
  std::vector<RunRecord> out;
  auto s = db_->prepare(std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY start_time, id");
  while (s.step()) out.push_back(read_run(s));
  return out;
}

RunRecord Store::run(const std::string& ref) const {
  {
    auto s = db_->prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id=?");
    s.bind_all(ref);
    if (s.step()) return read_run(s);
  }
  const std::string name = ref.rfind("run:", 0) == 0 ? ref.substr(4) : ref;
  auto s = db_->prepare(std::string("SELECT ") + kRunColumns +
                        " FROM runs WHERE name=? AND status='completed' ORDER BY start_time DESC LIMIT 1");
  s.bind_all(name);
  if (s.step()) return read_run(s);
  throw std::runtime_error("no run '" + ref + "' in store '" + path_ +
                           "' (a run id, or a name whose latest completed run is meant); see `trex runs`");
}

namespace {
/// Rows of a per-run query, each made by `row` from the statement.
template <typename Row, typename F>
std::vector<Row> rows_of(const sql::Database& db, const std::string& query, const std::string& run_id, F row) {
  std::vector<Row> out;
  auto s = db.prepare(query);
  s.bind_all(run_id);
  while (s.step()) out.push_back(row(s));
  return out;
}
}  // namespace

std::vector<MetricRow> Store::metrics(const std::string& run_id) const {
  return rows_of<MetricRow>(*db_,
                            "SELECT epoch, split, name, value, wall_seconds FROM metrics WHERE run_id=? "
                            "ORDER BY epoch, CASE split WHEN 'train' THEN 0 WHEN 'val' THEN 1 ELSE 2 END, name",
                            run_id, [](const sql::Statement& s) {
                              return MetricRow{s.integer(0), s.text(1), s.text(2), s.real(3), s.real(4)};
                            });
}

std::vector<SummaryRow> Store::summaries(const std::string& run_id) const {
  return rows_of<SummaryRow>(
      *db_, "SELECT key, best, best_epoch, last, min, max, higher_is_better FROM summaries WHERE run_id=? ORDER BY key",
      run_id, [](const sql::Statement& s) {
        return SummaryRow{s.text(0), s.real(1), s.integer(2), s.real(3), s.real(4), s.real(5), s.integer(6) != 0};
      });
}

std::vector<ParamRow> Store::params(const std::string& run_id) const {
  return rows_of<ParamRow>(*db_, "SELECT key, value, type FROM params WHERE run_id=? ORDER BY key", run_id,
                           [](const sql::Statement& s) {
                             return ParamRow{s.text(0), s.text(1), s.text(2)};
                           });
}

std::vector<ArtifactRow> Store::artifacts(const std::string& run_id) const {
  return rows_of<ArtifactRow>(*db_, "SELECT kind, path, checksum FROM artifacts WHERE run_id=? ORDER BY path", run_id,
                              [](const sql::Statement& s) {
                                return ArtifactRow{s.text(0), s.text(1), s.text(2)};
                              });
}

std::vector<std::pair<std::int64_t, double>> Store::learning_rates(const std::string& run_id) const {
  return rows_of<std::pair<std::int64_t, double>>(
      *db_, "SELECT epoch, lr FROM epochs WHERE run_id=? ORDER BY epoch", run_id,
      [](const sql::Statement& s) { return std::make_pair(s.integer(0), s.real(1)); });
}

std::string resolve_checkpoint(const Store& store, const std::string& ref) {
  const auto at = ref.rfind('@');
  const std::string run_ref = at == std::string::npos ? ref : ref.substr(0, at);
  const std::string which = at == std::string::npos ? "" : ref.substr(at + 1);
  if (!which.empty() && which != "best" && which != "last")
    throw std::runtime_error("'" + ref + "': a checkpoint is RUN@best or RUN@last, not @" + which);
  const RunRecord run = store.run(run_ref);
  const fs::path dir = fs::path(store.run_dir(run.id, false)) / "checkpoints";
  for (const std::string& name :
       which.empty() ? std::vector<std::string>{"best", "last"} : std::vector<std::string>{which}) {
    const fs::path file = dir / (name + ".pt");
    if (fs::exists(file)) return file.string();
  }
  throw std::runtime_error("run " + run.id + " has no " + (which.empty() ? "" : which + " ") + "checkpoint in " +
                           dir.string() + " (train.checkpoint.keep may have dropped it)");
}

int Store::mark_stale_runs() {
  std::vector<std::string> stale;
  {
    auto s = db_->prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE status='running'");
    while (s.step()) {
      RunRecord r = read_run(s);
      if (r.status == "interrupted") stale.push_back(r.id);
    }
  }
  for (const auto& id : stale)
    db_->prepare("UPDATE runs SET status='interrupted', error=COALESCE(error, ?) WHERE id=? AND status='running'")
        .bind_all(std::string("the process stopped without finishing (no heartbeat, or its pid is gone)"), id)
        .run();
  return static_cast<int>(stale.size());
}

}  // namespace trex
