#include "trex/store/store.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "trex/common/fault.h"
#include "trex/common/classification_report.h"
#include "trex/store/cell_json.h"
#include "trex/config/spec.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

// Forward-only migrations; user_version is the number applied.
const std::vector<std::string> kMigrations = {
    // 1: runs, params, metrics, summaries, artifacts
    R"sql(
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  experiment TEXT NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('running','completed','failed','interrupted','pruned')),
  error TEXT,
  start_time REAL NOT NULL,
  end_time REAL,
  heartbeat REAL NOT NULL,
  host TEXT,
  pid INTEGER,
  seed INTEGER,
  trex_version TEXT,
  torch_version TEXT,
  opencv_version TEXT,
  git_commit TEXT,
  spec_yaml TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  class_names TEXT
);
CREATE INDEX runs_name ON runs(name, start_time);
CREATE INDEX runs_experiment ON runs(experiment, start_time);
CREATE TABLE params(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value,
  type TEXT NOT NULL,
  PRIMARY KEY(run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_key_value ON params(key, value);
CREATE TABLE metrics(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  split TEXT NOT NULL CHECK(split IN ('train','val','test')),
  name TEXT NOT NULL,
  value REAL,
  wall_seconds REAL,
  PRIMARY KEY(run_id, epoch, split, name)
) WITHOUT ROWID;
CREATE TABLE summaries(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  best REAL, best_epoch INTEGER, last REAL, min REAL, max REAL,
  higher_is_better INTEGER NOT NULL,
  PRIMARY KEY(run_id, key)
) WITHOUT ROWID;
CREATE INDEX summaries_key_best ON summaries(key, best);
CREATE TABLE artifacts(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  checksum TEXT,
  PRIMARY KEY(run_id, path)
) WITHOUT ROWID;
)sql",
    // 2: the run's main metric, and the learning rate of each epoch
    R"sql(
ALTER TABLE runs ADD COLUMN main_metric TEXT;
CREATE TABLE epochs(
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  lr REAL,
  PRIMARY KEY(run_id, epoch)
) WITHOUT ROWID;
)sql",
    // 3: evaluations of a trained run (trex predict --evaluate), apart from training runs
    R"sql(
CREATE TABLE evaluations(
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  created REAL NOT NULL,
  checkpoint TEXT NOT NULL,
  source TEXT NOT NULL,
  examples INTEGER NOT NULL
);
CREATE INDEX evaluations_run ON evaluations(run_id);
CREATE TABLE evaluation_metrics(
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  PRIMARY KEY(evaluation_id, name)
) WITHOUT ROWID;
CREATE TABLE evaluation_classes(
  evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
  class_index INTEGER NOT NULL,
  class_name TEXT,
  precision REAL, recall REAL, f1 REAL, support INTEGER,
  PRIMARY KEY(evaluation_id, class_index)
) WITHOUT ROWID;
)sql",
    // 4: sweeps and their trials; a run knows its sweep and trial; indexes for --where on summaries
    R"sql(
CREATE TABLE sweeps(
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  spec_path TEXT,
  spec_yaml TEXT NOT NULL,
  method TEXT NOT NULL,
  config TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('running','completed','interrupted','failed')),
  created REAL NOT NULL,
  updated REAL NOT NULL,
  host TEXT,
  pid INTEGER,
  shard_index INTEGER NOT NULL DEFAULT 0,
  shard_count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX sweeps_key ON sweeps(key, created);
CREATE INDEX sweeps_name ON sweeps(name, created);
CREATE TABLE trials(
  sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  config INTEGER NOT NULL,
  seed INTEGER,
  params TEXT NOT NULL,
  point TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('pending','running','completed','failed','pruned','interrupted')),
  run_id TEXT,
  objective REAL,
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated REAL NOT NULL,
  PRIMARY KEY(sweep_id, number)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN sweep_id TEXT;
ALTER TABLE runs ADD COLUMN trial INTEGER;
CREATE INDEX runs_sweep ON runs(sweep_id, trial);
CREATE INDEX runs_start ON runs(start_time);
CREATE INDEX summaries_key_last ON summaries(key, last);
)sql",
};

const char* kRunColumns =
    "id, name, experiment, status, error, start_time, end_time, heartbeat, host, pid, seed, trex_version, "
    "torch_version, opencv_version, git_commit, spec_yaml, spec_hash, class_names, main_metric, sweep_id, trial";

sql::Cell typed_value(const FlatParam& p) {
  if (p.type == "int") {
    if (auto v = Node::scalar(p.value).as_int()) return *v;
  }
  if (p.type == "float") {
    if (auto v = Node::scalar(p.value).as_float()) return *v;
  }
  if (p.type == "bool") return std::int64_t{p.value == "true" || p.value == "True" || p.value == "TRUE"};
  if (p.type == "null") return std::monostate{};
  return p.value;
}

}  // namespace


const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Failed: return "failed";
    case RunStatus::Interrupted: return "interrupted";
    case RunStatus::Pruned: return "pruned";
  }
  return "?";
}




bool run_gone(double heartbeat, const std::string& host, std::int64_t pid) {
  static const std::string here = host_name();
  if (now_seconds() - heartbeat > Store::kStaleSeconds) return true;
  return host == here && !process_alive(pid);
}

bool is_stale(const RunRecord& r) { return r.status == "running" && run_gone(r.heartbeat, r.host, r.pid); }

namespace {
// trex_run_gone(heartbeat, host, pid) in SQL: queries read a dead run's status
// as Store::run does. Not deterministic: it reads the clock and the process table.
void sql_run_gone(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const unsigned char* host = sqlite3_value_text(argv[1]);
  const bool gone = run_gone(sqlite3_value_double(argv[0]), host ? reinterpret_cast<const char*>(host) : "",
                             sqlite3_value_int64(argv[2]));
  sqlite3_result_int(ctx, gone ? 1 : 0);
}
}  // namespace

std::string Store::default_path() {
  if (const char* env = std::getenv("TREX_STORE"); env && *env) return env;
  return "results/trex.db";
}

Store::Store(const std::string& path, bool read_only) : path_(path), read_only_(read_only) {
  if (!read_only) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
  } else if (!fs::exists(path)) {
    throw sql::Error("store '" + path + "' does not exist; run an experiment first or pass --store");
  }
  db_ = std::make_unique<sql::Database>(path, read_only);
  sqlite3_create_function(db_->handle(), "trex_run_gone", 3, SQLITE_UTF8, nullptr, sql_run_gone, nullptr, nullptr);
  if (!read_only) {
    migrate(*db_, kSchemaVersion);
    mark_stale_runs();
  } else if (schema_version() > kSchemaVersion) {
    throw sql::Error("store '" + path + "' has schema version " + std::to_string(schema_version()) +
                     ", newer than this trex's " + std::to_string(kSchemaVersion) + "; upgrade trex");
  }
}

Store::~Store() = default;

std::string Store::folder() const {
  fs::path parent = fs::path(path_).parent_path();
  return parent.empty() ? "." : parent.string();
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (unsigned char c : id)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

void check_id(const std::string& kind, const std::string& id) {
  if (!valid_id(id)) {
    std::string shown = id.size() > 80 ? id.substr(0, 77) + "..." : id;
    throw std::runtime_error(kind + " id '" + shown + "' is not a valid id (1-128 of A-Z a-z 0-9 . _ -, not '.' or '..'); "
                             "the store may be damaged or hostile, and trex will not use it as a folder name");
  }
}

std::string Store::run_dir(const std::string& run_id, bool create) const {
  check_id("run", run_id);
  fs::path dir = fs::path(folder()) / "runs" / run_id;
  if (create) fs::create_directories(dir);
  return dir.string();
}

std::string Store::sweep_dir(const std::string& sweep_id, bool create) const {
  check_id("sweep", sweep_id);
  fs::path dir = fs::path(folder()) / "sweeps" / sweep_id;
  if (create) fs::create_directories(dir);
  return dir.string();
}

int Store::schema_version() const {
  auto s = db_->prepare("PRAGMA user_version");
  s.step();
  return static_cast<int>(s.integer(0));
}

void Store::migrate(sql::Database& db, int target) {
  db.transaction([&] {
    auto s = db.prepare("PRAGMA user_version");
    s.step();
    const int current = static_cast<int>(s.integer(0));
    if (current > static_cast<int>(kMigrations.size()))
      throw sql::Error("store '" + db.path() + "' has schema version " + std::to_string(current) +
                       ", newer than this trex's " + std::to_string(kMigrations.size()) + "; upgrade trex");
    for (int v = current; v < target; ++v) db.exec(kMigrations[static_cast<size_t>(v)]);
    if (target > current) db.exec("PRAGMA user_version=" + std::to_string(target));
  });
}

std::string Store::new_run_id() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(getpid())};
  char out[64];
  std::snprintf(out, sizeof out, "%s%03dZ-%08llx", stamp, static_cast<int>(ms),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return out;
}

void Store::create_run(const RunRecord& r, const std::vector<FlatParam>& params) {
  db_->transaction([&] {
    db_->prepare(std::string("INSERT INTO runs(") + kRunColumns +
                 ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind_all(r.id, r.name, r.experiment, std::string("running"), sql::Cell{}, r.start_time, sql::Cell{}, r.start_time,
                  r.host, r.pid, r.seed, r.trex_version, r.torch_version, r.opencv_version, r.git_commit, r.spec_yaml,
                  r.spec_hash, json_text(nlohmann::json(r.class_names)), r.main_metric,
                  r.sweep_id.empty() ? sql::Cell{} : sql::Cell{r.sweep_id},
                  r.sweep_id.empty() ? sql::Cell{} : sql::Cell{r.trial})
        .run();
    if (!r.sweep_id.empty())
      db_->prepare("UPDATE trials SET state='running', run_id=?, attempts=attempts+1, updated=? WHERE sweep_id=? AND number=?")
          .bind_all(r.id, r.start_time, r.sweep_id, r.trial)
          .run();
    auto ins = db_->prepare("INSERT INTO params(run_id, key, value, type) VALUES(?,?,?,?)");
    for (const auto& p : params) {
      ins.reset();
      ins.bind(1, r.id).bind(2, p.key).bind(3, typed_value(p)).bind(4, p.type).run();
    }
  });
}

void Store::record_epoch(const std::string& run_id, std::int64_t epoch, const std::vector<MetricRow>& rows,
                         const std::map<std::string, bool>& higher_is_better, double lr) {
  db_->transaction([&] {
    auto ins = db_->prepare(
        "INSERT OR REPLACE INTO metrics(run_id, epoch, split, name, value, wall_seconds) VALUES(?,?,?,?,?,?)");
    for (const auto& m : rows) {
      ins.reset();
      ins.bind_all(run_id, epoch, m.split, m.name, m.value, m.wall_seconds).run();
    }
    if (lr > 0)
      db_->prepare("INSERT OR REPLACE INTO epochs(run_id, epoch, lr) VALUES(?,?,?)").bind_all(run_id, epoch, lr).run();
    auto get = db_->prepare("SELECT best, best_epoch, min, max FROM summaries WHERE run_id=? AND key=?");
    auto put = db_->prepare(
        "INSERT OR REPLACE INTO summaries(run_id, key, best, best_epoch, last, min, max, higher_is_better) "
        "VALUES(?,?,?,?,?,?,?,?)");
    for (const auto& m : rows) {
      const std::string key = m.key();
      auto dir = higher_is_better.find(m.name);
      const bool higher = dir == higher_is_better.end() ? true : dir->second;
      double best = m.value, mn = m.value, mx = m.value;
      std::int64_t best_epoch = epoch;
      get.reset();
      get.bind_all(run_id, key);
      if (get.step()) {
        const double old_best = get.real(0);
        const bool improved = higher ? m.value > old_best : m.value < old_best;
        if (!improved) best = old_best, best_epoch = get.integer(1);
        mn = std::min(mn, get.real(2));
        mx = std::max(mx, get.real(3));
      }
      put.reset();
      put.bind_all(run_id, key, best, best_epoch, m.value, mn, mx, std::int64_t{higher}).run();
    }
    db_->prepare("UPDATE runs SET heartbeat=? WHERE id=?").bind_all(now_seconds(), run_id).run();
    fault_point("commit", epoch);
  });
}

void Store::heartbeat(const std::string& run_id) {
  db_->prepare("UPDATE runs SET heartbeat=? WHERE id=?").bind_all(now_seconds(), run_id).run();
}

void Store::set_status(const std::string& run_id, RunStatus status, const std::string& error) {
  const bool running = status == RunStatus::Running;
  auto s = db_->prepare("UPDATE runs SET status=?, error=?, end_time=?, heartbeat=?, pid=?, host=? WHERE id=?");
  s.bind(1, std::string(status_name(status)));
  s.bind(2, error.empty() ? sql::Cell{} : sql::Cell{error});
  s.bind(3, running ? sql::Cell{} : sql::Cell{now_seconds()});
  s.bind(4, now_seconds());
  s.bind(5, std::int64_t{getpid()});
  s.bind(6, host_name());
  s.bind(7, run_id);
  s.run();
}

void Store::truncate_after(const std::string& run_id, std::int64_t epoch,
                           const std::map<std::string, bool>& higher_is_better) {
  db_->transaction([&] {
    db_->prepare("DELETE FROM metrics WHERE run_id=? AND epoch>?").bind_all(run_id, epoch).run();
    db_->prepare("DELETE FROM epochs WHERE run_id=? AND epoch>?").bind_all(run_id, epoch).run();
    rebuild_summaries(run_id, higher_is_better);
  });
}

std::int64_t Store::last_epoch(const std::string& run_id) const {
  auto s = db_->prepare("SELECT COALESCE(MAX(epoch), 0) FROM metrics WHERE run_id=? AND split != 'test'");
  s.bind_all(run_id);
  s.step();
  return s.integer(0);
}

void Store::rebuild_summaries(const std::string& run_id, const std::map<std::string, bool>& higher_is_better) {
  std::map<std::string, bool> directions;
  {
    auto s = db_->prepare("SELECT key, higher_is_better FROM summaries WHERE run_id=?");
    s.bind_all(run_id);
    while (s.step()) directions[s.text(0)] = s.integer(1) != 0;
  }
  db_->prepare("DELETE FROM summaries WHERE run_id=?").bind_all(run_id).run();
  auto s = db_->prepare("SELECT epoch, split, name, value, wall_seconds FROM metrics WHERE run_id=? ORDER BY epoch");
  s.bind_all(run_id);
  std::map<std::string, SummaryRow> out;
  while (s.step()) {
    MetricRow m{s.integer(0), s.text(1), s.text(2), s.real(3), s.real(4)};
    auto dir = higher_is_better.find(m.name);
    bool higher = dir != higher_is_better.end() ? dir->second : directions.count(m.key()) ? directions[m.key()] : true;
    auto [it, fresh] = out.try_emplace(m.key(), SummaryRow{m.key(), m.value, m.epoch, m.value, m.value, m.value, higher});
    SummaryRow& r = it->second;
    if (!fresh) {
      if (higher ? m.value > r.best : m.value < r.best) r.best = m.value, r.best_epoch = m.epoch;
      r.last = m.value;
      r.min = std::min(r.min, m.value);
      r.max = std::max(r.max, m.value);
    }
  }
  auto put = db_->prepare(
      "INSERT INTO summaries(run_id, key, best, best_epoch, last, min, max, higher_is_better) VALUES(?,?,?,?,?,?,?,?)");
  for (const auto& [key, r] : out) {
    put.reset();
    put.bind_all(run_id, key, r.best, r.best_epoch, r.last, r.min, r.max, std::int64_t{r.higher_is_better}).run();
  }
}

void Store::add_artifact(const std::string& run_id, const std::string& kind, const std::string& path,
                         const std::string& checksum) {
  db_->prepare("INSERT OR REPLACE INTO artifacts(run_id, kind, path, checksum) VALUES(?,?,?,?)")
      .bind_all(run_id, kind, path, checksum)
      .run();
}

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
                           [](const sql::Statement& s) { return ParamRow{s.text(0), s.text(1), s.text(2)}; });
}

std::vector<ArtifactRow> Store::artifacts(const std::string& run_id) const {
  return rows_of<ArtifactRow>(*db_, "SELECT kind, path, checksum FROM artifacts WHERE run_id=? ORDER BY path", run_id,
                              [](const sql::Statement& s) { return ArtifactRow{s.text(0), s.text(1), s.text(2)}; });
}

std::vector<std::pair<std::int64_t, double>> Store::learning_rates(const std::string& run_id) const {
  return rows_of<std::pair<std::int64_t, double>>(
      *db_, "SELECT epoch, lr FROM epochs WHERE run_id=? ORDER BY epoch", run_id,
      [](const sql::Statement& s) { return std::make_pair(s.integer(0), s.real(1)); });
}

std::int64_t Store::add_evaluation(const std::string& run_id, const std::string& checkpoint, const std::string& source,
                                   const std::map<std::string, double>& metrics, const ClassificationReport& report) {
  std::int64_t id = 0;
  db_->transaction([&] {
    db_->prepare("INSERT INTO evaluations(run_id, created, checkpoint, source, examples) VALUES(?,?,?,?,?)")
        .bind_all(run_id, now_seconds(), checkpoint, source, report.macro.support)
        .run();
    auto last = db_->prepare("SELECT last_insert_rowid()");
    last.step();
    id = last.integer(0);
    auto m = db_->prepare("INSERT INTO evaluation_metrics(evaluation_id, name, value) VALUES(?,?,?)");
    for (const auto& [name, value] : metrics) {
      m.reset();
      m.bind_all(id, name, value).run();
    }
    auto c = db_->prepare(
        "INSERT INTO evaluation_classes(evaluation_id, class_index, class_name, precision, recall, f1, support) VALUES(?,?,?,?,?,?,?)");
    for (std::size_t i = 0; i < report.classes.size(); ++i) {
      const auto& row = report.classes[i];
      c.reset();
      c.bind_all(id, static_cast<std::int64_t>(i), row.name, row.precision, row.recall, row.f1, row.support).run();
    }
  });
  return id;
}

std::string resolve_checkpoint(const Store& store, const std::string& ref) {
  const auto at = ref.rfind('@');
  const std::string run_ref = at == std::string::npos ? ref : ref.substr(0, at);
  const std::string which = at == std::string::npos ? "" : ref.substr(at + 1);
  if (!which.empty() && which != "best" && which != "last")
    throw std::runtime_error("'" + ref + "': a checkpoint is RUN@best or RUN@last, not @" + which);
  const RunRecord run = store.run(run_ref);
  const fs::path dir = fs::path(store.run_dir(run.id, false)) / "checkpoints";
  for (const std::string& name : which.empty() ? std::vector<std::string>{"best", "last"} : std::vector<std::string>{which}) {
    const fs::path file = dir / (name + ".pt");
    if (fs::exists(file)) return file.string();
  }
  throw std::runtime_error("run " + run.id + " has no " + (which.empty() ? "" : which + " ") + "checkpoint in " + dir.string() +
                           " (train.checkpoint.keep may have dropped it)");
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
