// Store: schema and migrations, numeric params, summaries by direction, stale runs.
#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include "helpers.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {
RunRecord make_run(const std::string& name, std::int64_t pid = getpid()) {
  RunRecord r;
  r.id = Store::new_run_id();
  r.name = name;
  r.experiment = name;
  r.start_time = now_seconds();
  r.host = host_name();
  r.pid = pid;
  r.spec_yaml = "name: " + name + "\n";
  r.spec_hash = "h";
  r.class_names = {"a", "b"};
  r.main_metric = "val_accuracy";
  return r;
}
}  // namespace

TEST_CASE("a new store has the current schema", "[store]") {
  TempDir d;
  Store s(d.file("sub/trex.db"));
  CHECK(s.schema_version() == Store::kSchemaVersion);
  auto q = s.db().prepare("PRAGMA journal_mode");
  q.step();
  CHECK(q.text(0) == "wal");
  CHECK(s.run_dir("x", false) == d.file("sub/runs/x"));
}

TEST_CASE("migrations move an old store forward and keep its rows", "[store]") {
  TempDir d;
  const std::string path = d.file("old.db");
  {
    sql::Database db(path, false);
    Store::migrate(db, 1);
    db.exec(
        "INSERT INTO runs(id, name, experiment, status, start_time, heartbeat, spec_yaml, spec_hash) "
        "VALUES('r1', 'old', 'old', 'completed', 1, 1, 'name: old', 'h')");
  }
  Store s(path);
  CHECK(s.schema_version() == Store::kSchemaVersion);
  auto r = s.run("r1");
  CHECK(r.name == "old");
  CHECK(r.main_metric.empty());
  CHECK(s.learning_rates("r1").empty());  // the v2 table exists
  SECTION("a store newer than this trex is refused") {
    s.db().exec("PRAGMA user_version=99");
    CHECK_THROWS_WITH(Store(path, true), Contains("schema version 99, newer than this trex's " +
                                                  std::to_string(Store::kSchemaVersion) + "; upgrade trex"));
  }
}

TEST_CASE("run ids are unique and sort by time", "[store]") {
  std::string a = Store::new_run_id(), b;
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  b = Store::new_run_id();
  CHECK(a < b);
  CHECK(std::regex_match(a, std::regex("[0-9]{8}T[0-9]{9}Z-[0-9a-f]{8}")));
}

TEST_CASE("params are stored typed, so numbers compare as numbers", "[store]") {
  TempDir d;
  Store s(d.file("trex.db"));
  for (const char* lr : {"0.1", "0.001", "0.05"}) {
    auto r = make_run(std::string("lr") + lr);
    s.create_run(r, {{"train.optimizer.lr", lr, "float"},
                     {"train.epochs", "10", "int"},
                     {"model.type", "seed_cnn", "string"},
                     {"train.bf16", "false", "bool"}});
  }
  // As text, '0.05' < '0.1' < '0.001' would be wrong; numerically only 0.001 is below 0.01.
  auto q = s.db().prepare("SELECT COUNT(*) FROM params WHERE key='train.optimizer.lr' AND value < 0.01");
  q.step();
  CHECK(q.integer(0) == 1);
  auto t = s.db().prepare("SELECT typeof(value) FROM params WHERE key='train.epochs' LIMIT 1");
  t.step();
  CHECK(t.text(0) == "integer");
}

TEST_CASE("summaries follow each metric's direction", "[store]") {
  TempDir d;
  Store s(d.file("trex.db"));
  auto r = make_run("dir");
  s.create_run(r, {});
  const std::map<std::string, bool> dirs{{"accuracy", true}, {"loss", false}};
  const double acc[] = {0.5, 0.8, 0.7}, loss[] = {1.0, 0.4, 0.6};
  for (int e = 0; e < 3; ++e)
    s.record_epoch(r.id, e + 1, {{e + 1, "val", "accuracy", acc[e], 1.0}, {e + 1, "val", "loss", loss[e], 1.0}}, dirs,
                   0.1);
  std::map<std::string, SummaryRow> by_key;
  for (auto& x : s.summaries(r.id)) by_key[x.key] = x;
  CHECK(by_key["val_accuracy"].best == 0.8);
  CHECK(by_key["val_accuracy"].best_epoch == 2);
  CHECK(by_key["val_accuracy"].last == 0.7);
  CHECK(by_key["val_loss"].best == 0.4);
  CHECK(by_key["val_loss"].best_epoch == 2);
  CHECK(by_key["val_loss"].max == 1.0);
  CHECK(by_key["val_loss"].min == 0.4);
  CHECK_FALSE(by_key["val_loss"].higher_is_better);

  SECTION("truncating epochs rebuilds the summaries") {
    s.truncate_after(r.id, 1, dirs);
    CHECK(s.metrics(r.id).size() == 2);
    for (auto& x : s.summaries(r.id)) {
      CHECK(x.best_epoch == 1);
      CHECK(x.last == (x.key == "val_loss" ? 1.0 : 0.5));
    }
  }
}

TEST_CASE("a stale running run reads as interrupted and the next writer records it", "[store]") {
  TempDir d;
  const std::string path = d.file("trex.db");
  std::string dead_id, live_id, old_id;
  {
    Store s(path);
    // A pid that cannot exist on this host.
    auto dead = make_run("dead", 999999999);
    s.create_run(dead, {});
    dead_id = dead.id;
    auto live = make_run("live");
    s.create_run(live, {});
    live_id = live.id;
    auto old = make_run("old");
    s.create_run(old, {});
    old_id = old.id;
    s.db().prepare("UPDATE runs SET heartbeat=? WHERE id=?").bind_all(now_seconds() - 3600, old_id).run();
    CHECK(s.run(dead_id).status == "interrupted");  // readers see it at once
    CHECK(s.run(old_id).status == "interrupted");
    CHECK(s.run(live_id).status == "running");
  }
  Store again(path);  // a writer marks them
  auto raw = again.db().prepare("SELECT id, status FROM runs ORDER BY id");
  std::map<std::string, std::string> status;
  while (raw.step()) status[raw.text(0)] = raw.text(1);
  CHECK(status[dead_id] == "interrupted");
  CHECK(status[old_id] == "interrupted");
  CHECK(status[live_id] == "running");
}

TEST_CASE("run:NAME and NAME mean the latest completed run of that name", "[store]") {
  TempDir d;
  Store s(d.file("trex.db"));
  auto a = make_run("same");
  s.create_run(a, {});
  s.set_status(a.id, RunStatus::Completed);
  auto b = make_run("same");
  b.start_time += 1;
  s.create_run(b, {});  // still running: not "completed"
  CHECK(s.run("run:same").id == a.id);
  CHECK(s.run("same").id == a.id);
  CHECK_THROWS_WITH(s.run("nope"), Contains("no run 'nope' in store"));
}

TEST_CASE("the documented example queries run against a real store", "[store]") {
  // results/README.md holds the queries between ```sql fences; each must run.
  TempDir d;
  Store s(d.file("trex.db"));
  auto r = make_run("doc");
  s.create_run(r, {{"train.optimizer.lr", "0.001", "float"}});
  s.record_epoch(r.id, 1, {{1, "val", "accuracy", 0.9, 1.0}}, {{"accuracy", true}});
  s.set_status(r.id, RunStatus::Completed);
  const std::string doc = read_file(source_dir() + "/results/README.md");
  std::regex fence("```sql\\n([\\s\\S]*?)```");
  int count = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), fence); it != std::sregex_iterator(); ++it) {
    auto q = s.db().prepare((*it)[1].str());
    int rows = 0;
    while (q.step()) ++rows;
    INFO((*it)[1].str());
    CHECK(rows >= 1);
    ++count;
  }
  CHECK(count >= 3);
}
