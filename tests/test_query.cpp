// The run query language: parsing, pinned errors, SQL injection attempts, and
// the trex runs / sql / compare commands over a store built here.
#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "trex/store/query.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

struct Fake {
  std::string id;
  double lr;
  std::int64_t batch;
  std::string model;
  std::vector<double> val_accuracy;  // per epoch
  std::string status = "completed";
};

const std::vector<Fake> kRuns = {
    {"r1", 0.001, 64, "seed_cnn", {0.80, 0.95, 0.93}},
    {"r2", 0.005, 128, "seed_cnn", {0.70, 0.85}},
    {"r3", 0.05, 64, "vgg16", {0.91, 0.96}},
    {"r4", 0.0001, 256, "resnet18", {0.50}, "failed"},
    {"r5", 0.002, 64, "seed_cnn", {0.92, 0.91}, "pruned"},
};

void fill(Store& store) {
  double t = 1000;
  for (const auto& f : kRuns) {
    RunRecord r;
    r.id = f.id;
    r.name = "exp_" + f.model;
    r.experiment = r.name;
    r.start_time = t++;
    r.host = "elsewhere";
    r.spec_yaml = "name: x";
    r.spec_hash = "h";
    r.main_metric = "val_accuracy";
    std::vector<FlatParam> params{{"train.optimizer.lr", fmt_double(f.lr), "float"},
                                  {"train.batch_size", std::to_string(f.batch), "int"},
                                  {"model.type", f.model, "string"}};
    if (f.id == "r2" || f.id == "r4") params.push_back({"model.pretrained", f.id == "r2" ? "1" : "0", "int"});
    store.create_run(r, params);
    for (std::size_t e = 0; e < f.val_accuracy.size(); ++e)
      store.record_epoch(f.id, static_cast<std::int64_t>(e + 1),
                         {{static_cast<std::int64_t>(e + 1), "val", "accuracy", f.val_accuracy[e], 1.0},
                          {static_cast<std::int64_t>(e + 1), "val", "loss", 1.0 - f.val_accuracy[e], 1.0}},
                         {{"accuracy", true}, {"loss", false}});
    if (f.status != "running")
      store.set_status(f.id, f.status == "completed" ? RunStatus::Completed
                             : f.status == "failed"  ? RunStatus::Failed
                                                     : RunStatus::Pruned);
  }
}

std::set<std::string> ids(Store& store, const std::string& where) {
  std::set<std::string> out;
  for (const char* sort : {"", "-best.val_accuracy"}) {  // both plans: filter-driven and sort-index-driven
    query::RunQuery q{where, sort, {query::parse_field("id")}, -1, 0};
    std::set<std::string> got;
    query::run_query(store.db(), q, [&](sql::Statement& s) { got.insert(s.text(0)); });
    if (*sort)
      CHECK(got == out);
    else
      out = got;
  }
  return out;
}

std::string error_of(const std::string& where) {
  try {
    query::compile_where(where);
  } catch (const query::Error& e) {
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("where-expressions filter on params, metric summaries and run columns", "[query]") {
  TempDir d;
  Store store(d.file("s.db"));
  fill(store);
  using S = std::set<std::string>;
  CHECK(ids(store, "") == S{"r1", "r2", "r3", "r4", "r5"});
  CHECK(ids(store, "params.train.optimizer.lr < 0.01") == S{"r1", "r2", "r4", "r5"});
  CHECK(ids(store, "params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9") == S{"r1", "r5"});
  CHECK(ids(store, "params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9 and status = completed") == S{"r1"});
  // best is the best epoch, last the final one: MLflow ranks by last (its #1422); we offer both.
  CHECK(ids(store, "last.val_accuracy > 0.92") == S{"r1", "r3"});
  CHECK(ids(store, "best.val_loss < 0.06") == S{"r1", "r3"});
  CHECK(ids(store, "min.val_accuracy >= 0.9") == S{"r3", "r5"});
  CHECK(ids(store, "best_epoch.val_accuracy = 2") == S{"r1", "r2", "r3"});
  CHECK(ids(store, "params.model.type = vgg16 or params.train.batch_size = 256") == S{"r3", "r4"});
  CHECK(ids(store, "params.model.type in (vgg16, 'resnet18')") == S{"r3", "r4"});
  CHECK(ids(store, "params.model.type not in (seed_cnn)") == S{"r3", "r4"});
  CHECK(ids(store, "name like 'exp_seed%' and not (status = pruned)") == S{"r1", "r2"});
  CHECK(ids(store, "(status = failed or status = pruned) and params.train.batch_size != 64") == S{"r4"});
  CHECK(ids(store, "params.missing is null") == S{"r1", "r2", "r3", "r4", "r5"});
  CHECK(ids(store, "params.train.batch_size = 64 AND best.val_accuracy >= 0.95") == S{"r1", "r3"});
  CHECK(ids(store, "status != completed and params.train.optimizer.lr > 1e-3") == S{"r5"});
}

TEST_CASE("bad --where expressions name the problem and the column", "[query]") {
  CHECK(error_of("parms.lr < 1") ==
        "unknown field 'parms.lr' (did you mean 'params'?) (fields: run columns such as status or name, params.<key>, "
        "best|last|min|max.<metric>) (at column 1)");
  CHECK(error_of("best.val_accuracy >") == "expected a value at the end (at column 20)");
  CHECK(error_of("best.val_accuracy > 0.9 and") ==
        "expected a field at the end, e.g. best.val_accuracy > 0.9 (at column 28)");
  CHECK(error_of("(status = completed") == "expected ')' to close the '(' here (at column 20)");
  CHECK(error_of("status = 'completed") == "unterminated string; close it with ' (at column 10)");
  CHECK(error_of("status completed") ==
        "expected an operator (= != < <= > >= in like), found 'completed' (at column 8)");
  CHECK(error_of("best.val-acc > 1") ==
        "'best.val-acc': a metric is <split>_<name>, e.g. best.val_accuracy (at column 1)");
  CHECK(error_of("status = completed status = failed") ==
        "expected 'and', 'or' or the end, found 'status' (at column 20)");
  CHECK(error_of("params.lr ! 1") == "'!' alone is not an operator; use != or not (at column 11)");
  CHECK(error_of("params.lr in 1") == "expected '(' after 'in' (at column 14)");
  CHECK(error_of("name like 3") == "'like' takes a quoted pattern, e.g. name like 'cifar%' (at column 11)");
  CHECK(error_of("params.lr < 1.2.3") == "'1.2.3' is not a number (at column 13)");
}

TEST_CASE("injection attempts stay values or are rejected - no user text reaches SQL", "[query]") {
  TempDir d;
  Store store(d.file("s.db"));
  fill(store);
  // A quoted value is bound, however it reads.
  CHECK(ids(store, "name = 'x'' OR 1=1 --'").empty());
  CHECK(ids(store, "params.model.type = 'vgg16''; DROP TABLE runs; --'").empty());
  CHECK(ids(store, "params.model.type like '%' ").size() == 5);
  // Anything outside the grammar is refused before SQL is built.
  CHECK_THROWS_AS(query::compile_where("status = completed; DROP TABLE runs"), query::Error);
  CHECK_THROWS_AS(query::compile_where("params.x) OR 1=1 --"), query::Error);
  CHECK_THROWS_AS(query::compile_where("best.val_accuracy) FROM summaries; -- > 1"), query::Error);
  CHECK_THROWS_AS(query::parse_sort("-best.val_accuracy; DROP TABLE runs"), query::Error);
  CHECK_THROWS_AS(query::parse_field("params.a'b"), query::Error);
  // The param key is itself bound, so even a key made of SQL is just a key.
  const auto sql = query::compile_where("params.a--b = 1");
  CHECK_THAT(sql.text, !Contains("a--b"));
  CHECK(ids(store, "").size() == 5);  // the table is still there
}

TEST_CASE("trex runs sorts, pages, counts, picks columns and formats", "[query][cli]") {
  TempDir d;
  {
    Store store(d.file("s.db"));
    fill(store);
  }
  const std::string base = trex_binary() + " runs --store " + d.file("s.db");
  auto r = run_command(base + " --sort -best.val_accuracy --columns id,best.val_accuracy --format csv");
  CHECK(r.exit_code == 0);
  CHECK(r.output == "id,best.val_accuracy\nr3,0.96\nr1,0.95\nr5,0.92\nr2,0.85\nr4,0.5\n");
  auto paged = run_command(base + " --sort -best.val_accuracy --columns id --limit 2 --offset 1 --format csv");
  CHECK(paged.output == "id\nr1\nr5\n");
  // Runs without the sorted field come last in both directions.
  auto nulls = run_command(base + " --sort params.nothing,-params.train.optimizer.lr --columns id --format csv");
  CHECK(nulls.output == "id\nr3\nr2\nr5\nr1\nr4\n");
  // Pages that cross from runs with the sort key to runs without it.
  const std::string by_pretrained = base + " --sort -params.model.pretrained --columns id --format csv --limit 2";
  CHECK(run_command(by_pretrained).output == "id\nr2\nr4\n");
  CHECK(run_command(by_pretrained + " --offset 1").output == "id\nr4\nr1\n");
  CHECK(run_command(by_pretrained + " --offset 3").output == "id\nr3\nr5\n");
  CHECK(run_command(base + " --sort params.model.pretrained --columns id --format csv").output ==
        "id\nr4\nr2\nr1\nr3\nr5\n");
  auto count = run_command(base + " --where \"best.val_accuracy > 0.9\" --count");
  CHECK(count.output == "3\n");
  auto json =
      run_command(base + " --where \"id = r1\" --columns id,params.train.batch_size,best.val_accuracy --format json");
  CHECK(nlohmann::json::parse(json.output) ==
        nlohmann::json::parse(R"([{"id":"r1","params.train.batch_size":64,"best.val_accuracy":0.95}])"));
  auto bad = run_command(base + " --where \"best.val_accuracy >> 1\"");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, StartsWith("trex: expected a value, found '>' (at column 20)"));
}

TEST_CASE("trex sql reads and cannot write - trex compare shows what differs", "[query][cli]") {
  TempDir d;
  {
    Store store(d.file("s.db"));
    fill(store);
  }
  const std::string store = " --store " + d.file("s.db");
  auto r = run_command(trex_binary() +
                       " sql \"SELECT count(*) AS n FROM runs WHERE status = 'completed'\" --format csv" + store);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "n\n3\n");
  for (const char* write : {"DELETE FROM runs", "DROP TABLE runs", "UPDATE runs SET name = 'x'",
                            "SELECT 1; DELETE FROM runs", "ATTACH DATABASE 'x.db' AS x"}) {
    INFO(write);
    auto w = run_command(trex_binary() + " sql \"" + write + "\"" + store);
    CHECK(w.exit_code == 1);
  }
  CHECK(run_command(trex_binary() + " sql \"SELECT count(*) FROM runs\" --format csv" + store).output ==
        "count(*)\n5\n");
  CHECK(!fs::exists(d.file("x.db")));

  auto c = run_command(trex_binary() + " compare r1 r3" + store);
  CHECK(c.exit_code == 0);
  CHECK_THAT(c.output, Contains("model.type") && Contains("train.optimizer.lr") && Contains("val_accuracy (best)"));
  CHECK_THAT(c.output, !Contains("train.batch_size"));  // same in both: hidden unless --all
  CHECK_THAT(run_command(trex_binary() + " compare r1 r3 --all" + store).output, Contains("train.batch_size"));
}
