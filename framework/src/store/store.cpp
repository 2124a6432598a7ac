#include "trex/store/store.h"

#include "trex/store/schema.h"

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
    throw std::runtime_error(kind + " id '" + shown +
                             "' is not a valid id (1-128 of A-Z a-z 0-9 . _ -, not '.' or '..'); "
                             "the store may be damaged or hostile, and trex will not use it as a folder name");
  }
}

std::string Store::run_dir(const std::string& run_id, bool create) const {
  check_id("run", run_id);
  fs::path dir = fs::path(folder()) / "runs" / run_id;
  if (create) fs::create_directories(dir);
  return dir.string();
}

std::string Store::run_relative(const std::string& run_id, const std::string& file) {
  check_id("run", run_id);
  return "runs/" + run_id + "/" + file;
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
    if (current > static_cast<int>(schema_migrations().size()))
      throw sql::Error("store '" + db.path() + "' has schema version " + std::to_string(current) +
                       ", newer than this trex's " + std::to_string(schema_migrations().size()) + "; upgrade trex");
    for (int v = current; v < target; ++v) db.exec(schema_migrations()[static_cast<size_t>(v)]);
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
    db_->prepare(std::string("INSERT INTO runs(") + kRunColumns + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind_all(r.id, r.name, r.experiment, std::string("running"), sql::Cell{}, r.start_time, sql::Cell{},
                  r.start_time, r.host, r.pid, r.seed, r.trex_version, r.torch_version, r.opencv_version, r.git_commit,
                  r.spec_yaml, r.spec_hash, json_text(nlohmann::json(r.class_names)), r.main_metric,
                  r.sweep_id.empty() ? sql::Cell{} : sql::Cell{r.sweep_id},
                  r.sweep_id.empty() ? sql::Cell{} : sql::Cell{r.trial})
        .run();
    if (!r.sweep_id.empty())
      db_->prepare(
             "UPDATE trials SET state='running', run_id=?, attempts=attempts+1, updated=? WHERE sweep_id=? AND "
             "number=?")
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
    heartbeat(run_id);
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
    auto [it, fresh] =
        out.try_emplace(m.key(), SummaryRow{m.key(), m.value, m.epoch, m.value, m.value, m.value, higher});
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
        "INSERT INTO evaluation_classes(evaluation_id, class_index, class_name, precision, recall, f1, support) "
        "VALUES(?,?,?,?,?,?,?)");
    for (std::size_t i = 0; i < report.classes.size(); ++i) {
      const auto& row = report.classes[i];
      c.reset();
      c.bind_all(id, static_cast<std::int64_t>(i), row.name, row.precision, row.recall, row.f1, row.support).run();
    }
  });
  return id;
}

}  // namespace trex
