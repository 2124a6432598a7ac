#include "trex/store/merge.h"

#include <filesystem>

#include "trex/sweep/sweep_store.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

const char* kRunCopyColumns =
    "id, name, experiment, status, error, start_time, end_time, heartbeat, host, pid, seed, trex_version, "
    "torch_version, "
    "opencv_version, git_commit, spec_yaml, spec_hash, class_names, main_metric, trial";

std::int64_t count(sql::Database& db, const std::string& query) {
  auto s = db.prepare(query);
  s.step();
  return s.integer(0);
}

// Symlinks are copied as links, never followed: a hostile store's link to
// /etc must not bring /etc's files into ours.
void copy_tree_if_missing(const fs::path& from, const fs::path& to) {
  if (!fs::exists(fs::symlink_status(from)) || fs::exists(fs::symlink_status(to))) return;
  if (!fs::is_directory(fs::symlink_status(from))) return;  // a run folder that is a link is left out
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

/// Every id in `query` (one text column) must be a valid id, before anything is copied.
void check_ids(sql::Database& db, const std::string& kind, const std::string& query, const std::string& source) {
  auto s = db.prepare(query);
  while (s.step()) {
    try {
      check_id(kind, s.text(0));
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot merge '" + source + "': " + e.what());
    }
  }
}

// Shards of one sweep share its key: their trials join the sweep already here;
// other sweeps come over, under a new id when theirs is taken.
void merge_sweeps(sql::Database& db, MergeReport& report,
                  std::vector<std::pair<std::string, std::string>>& sweep_dirs) {
  db.exec("CREATE TEMP TABLE IF NOT EXISTS sweep_map(src TEXT PRIMARY KEY, dst TEXT NOT NULL)");
  db.exec("DELETE FROM temp.sweep_map");
  auto sweeps = db.prepare("SELECT id, key, state FROM src.sweeps");
  while (sweeps.step()) {
    const std::string id = sweeps.text(0), key = sweeps.text(1), state = sweeps.text(2);
    auto same = db.prepare("SELECT id, state FROM main.sweeps WHERE key = ? ORDER BY created LIMIT 1");
    same.bind_all(key);
    std::string dst;
    if (same.step()) {
      dst = same.text(0);
      if (dst != id) {
        const bool done = state == "completed" && same.text(1) == "completed";
        db.prepare("UPDATE main.sweeps SET state = ?, updated = ?, shard_index = 0, shard_count = 1 WHERE id = ?")
            .bind_all(std::string(done ? "completed" : "interrupted"), now_seconds(), dst)
            .run();
        ++report.sweeps_joined;
      }
    } else {
      auto clash = db.prepare("SELECT count(*) FROM main.sweeps WHERE id = ?");
      clash.bind_all(id);
      clash.step();
      dst = clash.integer(0) ? "sweep-" + Store::new_run_id() : id;
      db.prepare(
            "INSERT INTO main.sweeps SELECT ?, key, name, spec_path, spec_yaml, method, config, state, created, "
            "updated, host, pid, shard_index, shard_count FROM src.sweeps WHERE id = ?")
          .bind_all(dst, id)
          .run();
      ++report.sweeps_added;
    }
    db.prepare("INSERT INTO temp.sweep_map VALUES(?, ?)").bind_all(id, dst).run();
    sweep_dirs.emplace_back(id, dst);
  }
}

/// The runs not here yet, with every row that belongs to them.
std::vector<std::string> merge_runs(sql::Database& db, MergeReport& report) {
  std::vector<std::string> new_runs;
  auto fresh = db.prepare("SELECT id FROM src.runs WHERE id NOT IN (SELECT id FROM main.runs)");
  while (fresh.step()) new_runs.push_back(fresh.text(0));
  report.runs_present = count(db, "SELECT count(*) FROM src.runs") - static_cast<std::int64_t>(new_runs.size());
  db.exec("CREATE TEMP TABLE IF NOT EXISTS new_runs(id TEXT PRIMARY KEY)");
  db.exec("DELETE FROM temp.new_runs");
  auto add = db.prepare("INSERT INTO temp.new_runs VALUES(?)");
  for (const auto& id : new_runs) {
    add.reset();
    add.bind_all(id).run();
  }
  db.exec(std::string("INSERT INTO main.runs(") + kRunCopyColumns + ", sweep_id) SELECT " + kRunCopyColumns +
          ", (SELECT dst FROM temp.sweep_map WHERE src = sweep_id) FROM src.runs WHERE id IN temp.new_runs");
  for (const char* table : {"params", "metrics", "summaries", "artifacts", "epochs"})
    db.exec(std::string("INSERT INTO main.") + table + " SELECT * FROM src." + table +
            " WHERE run_id IN temp.new_runs");
  return new_runs;
}

// Evaluations get new ids here; their metric and class rows follow them.
void merge_evaluations(sql::Database& db) {
  auto evals = db.prepare(
      "SELECT id, run_id, created, checkpoint, source, examples FROM src.evaluations "
      "WHERE run_id IN temp.new_runs ORDER BY id");
  while (evals.step()) {
    db.prepare("INSERT INTO main.evaluations(run_id, created, checkpoint, source, examples) VALUES(?,?,?,?,?)")
        .bind_all(evals.text(1), evals.real(2), evals.text(3), evals.text(4), evals.integer(5))
        .run();
    const std::int64_t dst = count(db, "SELECT last_insert_rowid()");
    const std::int64_t src = evals.integer(0);
    db.prepare(
          "INSERT INTO main.evaluation_metrics SELECT ?, name, value FROM src.evaluation_metrics WHERE evaluation_id = "
          "?")
        .bind_all(dst, src)
        .run();
    db.prepare(
          "INSERT INTO main.evaluation_classes SELECT ?, class_index, class_name, precision, recall, f1, support "
          "FROM src.evaluation_classes WHERE evaluation_id = ?")
        .bind_all(dst, src)
        .run();
  }
}

// A trial number present on both sides keeps the finished one.
void merge_trials(sql::Database& db, MergeReport& report) {
  const std::int64_t before = count(db, "SELECT count(*) FROM main.trials");
  db.exec(
      "INSERT INTO main.trials SELECT m.dst, t.number, t.config, t.seed, t.params, t.point, t.state, t.run_id, "
      "t.objective, t.reason, t.attempts, t.updated FROM src.trials t JOIN temp.sweep_map m ON m.src = t.sweep_id "
      "WHERE true ON CONFLICT(sweep_id, number) DO UPDATE SET state = excluded.state, run_id = excluded.run_id, "
      "objective = excluded.objective, reason = excluded.reason, attempts = excluded.attempts, "
      "updated = excluded.updated WHERE trials.state != 'completed' AND excluded.state = 'completed'");
  report.trials_added = count(db, "SELECT count(*) FROM main.trials") - before;
}

/// Run folders (whole) and sweep folders (file by file, so shards of one sweep fill one folder).
void copy_files(const Store& into, const fs::path& from, const std::vector<std::string>& new_runs,
                const std::vector<std::pair<std::string, std::string>>& sweep_dirs) {
  for (const auto& id : new_runs) copy_tree_if_missing(from / "runs" / id, into.run_dir(id, false));
  for (const auto& [src, dst] : sweep_dirs) {
    const fs::path in = from / "sweeps" / src, out = into.sweep_dir(dst, false);
    if (!fs::is_directory(fs::symlink_status(in))) continue;
    fs::create_directories(out);
    for (const auto& f : fs::directory_iterator(in))
      if (f.symlink_status().type() == fs::file_type::regular &&
          !fs::exists(fs::symlink_status(out / f.path().filename())))
        fs::copy_file(f.path(), out / f.path().filename());
  }
}

}  // namespace

MergeReport merge_store(Store& into, const std::string& source) {
  if (fs::exists(source) && fs::exists(into.path()) && fs::equivalent(source, into.path()))
    throw std::runtime_error("cannot merge store '" + source + "' into itself");
  { Store migrate(source); }  // bring the source to this trex's schema (forward-only, as any open does)
  MergeReport report;
  sql::Database& db = into.db();
  db.prepare("ATTACH DATABASE ? AS src").bind_all(source).run();
  std::vector<std::string> new_runs;
  std::vector<std::pair<std::string, std::string>> sweep_dirs;  // source sweep id -> destination sweep id
  try {
    check_ids(db, "run", "SELECT id FROM src.runs", source);
    check_ids(db, "sweep", "SELECT id FROM src.sweeps", source);
    db.transaction([&] {
      merge_sweeps(db, report, sweep_dirs);
      new_runs = merge_runs(db, report);
      merge_evaluations(db);
      merge_trials(db, report);
    });
  } catch (...) {
    db.exec("DETACH DATABASE src");
    throw;
  }
  db.exec("DETACH DATABASE src");
  report.runs_added = static_cast<std::int64_t>(new_runs.size());
  const fs::path from = fs::path(source).parent_path().empty() ? fs::path(".") : fs::path(source).parent_path();
  copy_files(into, from, new_runs, sweep_dirs);
  return report;
}

}  // namespace trex
