// trex ui: the JSON API (pagination, read-only, no path traversal) and the page
// in headless Chromium driven by playwright-core (tests/ui/dashboard.cjs).

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "ui_server.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/ui/dashboard.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

void add_run(Store& store, const std::string& id, double lr, std::int64_t batch, const std::string& experiment,
             double t) {
  RunRecord r;
  r.id = id;
  r.name = r.experiment = experiment;
  r.start_time = t;
  r.host = "elsewhere";
  r.spec_yaml = "name: " + experiment + "\n";
  r.spec_hash = "h";
  r.main_metric = "val_accuracy";
  char lr_text[32];
  std::snprintf(lr_text, sizeof lr_text, "%g", lr);
  store.create_run(r, {{"train.optimizer.lr", lr_text, "float"},
                       {"train.batch_size", std::to_string(batch), "int"},
                       {"model.type", "seed_cnn", "string"}});
  for (std::int64_t e = 1; e <= 3; ++e)
    store.record_epoch(id, e,
                       {{e, "train", "accuracy", 0.5 + 0.1 * static_cast<double>(e) + lr, 1},
                        {e, "val", "accuracy", 0.4 + 0.1 * static_cast<double>(e) + lr, 1},
                        {e, "val", "loss", 1.0 / static_cast<double>(e), 1}},
                       {{"accuracy", true}, {"loss", false}}, lr);
  store.set_status(id, RunStatus::Completed);
}

ui::Response get(const ui::Dashboard& d, const std::string& path, const std::map<std::string, std::string>& q = {}) {
  return d.handle("GET", path, q);
}

}  // namespace

TEST_CASE("the dashboard API pages, filters, compares and never writes or leaves the results folder", "[ui]") {
  TempDir d;
  const std::string path = d.file("results/trex.db");
  {
    Store store(path);
    add_run(store, "a", 0.001, 64, "exp_a", 100);
    add_run(store, "b", 0.01, 64, "exp_a", 101);
    add_run(store, "c", 0.1, 128, "exp_b", 102);
  }
  write_file(d.file("results/runs/a/report/curve.png"), "png bytes");
  write_file(d.file("secret.txt"), "outside");
  const ui::Dashboard dash(path);

  auto runs = json::parse(get(dash, "/api/runs",
                              {{"where", "params.train.optimizer.lr < 0.05"},
                               {"sort", "-best.val_accuracy"},
                               {"limit", "1"},
                               {"offset", "1"},
                               {"columns", "id,best.val_accuracy"}})
                              .body);
  CHECK(runs["total"] == 2);
  REQUIRE(runs["rows"].size() == 1);
  CHECK(runs["rows"][0][0] == "a");
  CHECK(runs["rows"][0][1].get<double>() == Approx(0.701));
  CHECK(runs["columns"] == json::parse(R"(["id", "best.val_accuracy"])"));
  auto bad = get(dash, "/api/runs", {{"where", "best.val_accuracy >"}});
  CHECK(bad.status == 400);
  CHECK_THAT(json::parse(bad.body)["error"].get<std::string>(), Contains("expected a value at the end"));
  CHECK(get(dash, "/api/runs", {{"limit", "-3"}}).status == 400);

  auto cmp = json::parse(get(dash, "/api/compare", {{"ids", "a,c"}}).body);
  CHECK(cmp["params"] == json::parse(R"([{"key":"train.batch_size","values":["64","128"]},
                                         {"key":"train.optimizer.lr","values":["0.001","0.1"]}])"));
  CHECK(cmp["metrics"]["val_accuracy"].size() == 2);
  auto metrics = json::parse(get(dash, "/api/runs/b/metrics").body);
  CHECK(metrics["series"]["val_loss"].size() == 3);
  CHECK(get(dash, "/api/runs/nope").status == 404);
  CHECK(get(dash, "/").body.find("uPlot") != std::string::npos);
  CHECK(get(dash, "/assets/uPlot.iife.min.js").body.size() > 10000);

  // Files: inside the results folder only, never the database.
  CHECK(read_file(get(dash, "/files/runs/a/report/curve.png").file) == "png bytes");  // streamed by serve()
  CHECK(get(dash, "/files/runs/a/report/curve.png").content_type == "image/png");
  for (const char* escape : {"/files/../secret.txt", "/files/runs/../../secret.txt", "/files//etc/passwd",
                             "/files/runs/a/../../../secret.txt", "/files/trex.db", "/files/trex.db-wal", "/files/"}) {
    INFO(escape);
    const auto r = get(dash, escape);
    CHECK(r.status == 403);
    CHECK(r.body.find("outside") == std::string::npos);
  }
  // Only reads: other methods are refused, and the store is opened read-only.
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"})
    CHECK(dash.handle(method, "/api/runs", {}).status == 405);
  auto injected = get(dash, "/api/runs", {{"where", "name = 'x'; DROP TABLE runs; --'"}});
  CHECK(injected.status == 400);
  CHECK(json::parse(get(dash, "/api/runs").body)["total"] == 3);
}

TEST_CASE("the dashboard API pages through 100,000 runs", "[ui][slow]") {
  TempDir d;
  const std::string path = d.file("big.db");
  {
    Store store(path);
    auto& db = store.db();
    // Bulk rows in trex's schema: what many sweeps leave behind.
    db.transaction([&] {
      auto run = db.prepare(
          "INSERT INTO runs(id, name, experiment, status, start_time, heartbeat, spec_yaml, spec_hash, main_metric) "
          "VALUES(?, 'big', 'big', 'completed', ?, ?, 'name: big', 'h', 'val_accuracy')");
      auto param =
          db.prepare("INSERT INTO params(run_id, key, value, type) VALUES(?, 'train.optimizer.lr', ?, 'float')");
      auto summary = db.prepare(
          "INSERT INTO summaries(run_id, key, best, best_epoch, last, min, max, higher_is_better) "
          "VALUES(?, 'val_accuracy', ?, 1, ?, ?, ?, 1)");
      for (int i = 0; i < 100000; ++i) {
        const std::string id = "r" + std::to_string(100000 + i);
        const double acc = static_cast<double>(i % 1000) / 1000.0;
        run.reset();
        run.bind_all(id, static_cast<double>(i), static_cast<double>(i)).run();
        param.reset();
        param.bind_all(id, static_cast<double>(i % 100) / 1000.0).run();
        summary.reset();
        summary.bind_all(id, acc, acc, acc, acc).run();
      }
    });
  }
  const ui::Dashboard dash(path);
  auto page =
      json::parse(get(dash, "/api/runs", {{"sort", "-best.val_accuracy"}, {"limit", "50"}, {"offset", "100"}}).body);
  CHECK(page["total"] == 100000);
  CHECK(page["rows"].size() == 50);
  auto capped = json::parse(get(dash, "/api/runs", {{"limit", "100000"}}).body);
  CHECK(capped["rows"].size() == 1000);  // a page is at most 1,000 rows
  auto filtered =
      json::parse(get(dash, "/api/runs",
                      {{"where", "params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9"}, {"limit", "20"}})
                      .body);
  CHECK(filtered["total"] ==
        900);  // i % 1000 in 901..909: lr = (i % 100) / 1000 < 0.01 and acc = (i % 1000) / 1000 > 0.9
  CHECK(filtered["rows"].size() == 20);
}

TEST_CASE("the dashboard in headless Chromium: filter count, two-run comparison, differing parameters",
          "[ui][browser]") {
  TempDir d;
  const std::string path = d.file("results/trex.db");
  {
    Store store(path);
    for (int i = 0; i < 8; ++i)
      add_run(store, "run" + std::to_string(i), i < 5 ? 0.001 * (i + 1) : 0.05 * i, i % 2 ? 64 : 128,
              i < 4 ? "exp_a" : "exp_b", 1000 + i);
  }
  // The filter's count as SQL sees it.
  std::int64_t expected_count = 0;
  {
    Store store(path, true);
    auto s = store.db().prepare(
        "SELECT count(*) FROM runs WHERE id IN (SELECT run_id FROM params WHERE key = 'train.optimizer.lr' AND value < "
        "0.01)");
    s.step();
    expected_count = s.integer(0);
  }
  REQUIRE(expected_count == 5);
  json expected{{"where", "params.train.optimizer.lr < 0.01"},
                {"count", expected_count},
                {"compare", {"run1", "run2"}},
                {"diff", {{"train.batch_size", {"64", "128"}}, {"train.optimizer.lr", {"0.002", "0.003"}}}},
                {"run", "run3"}};
  write_file(d.file("expected.json"), expected.dump());

  UiServer server(path, 20000);
  CHECK(server.up());
  // Over HTTP too, writes are refused.
  if (server.up()) CHECK(server.client().Post("/api/runs", "x", "text/plain")->status == 405);
  const std::string shots = std::string(TREX_BINARY_DIR) + "/test-artifacts/dashboard";
  const auto r = run_command("NODE_PATH=" + source_dir() + "/framework/ui/node_modules node " + source_dir() +
                             "/tests/ui/dashboard.cjs " + server.url() + " " + shots + " " + d.file("expected.json"));
  const int status = server.stop();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(WIFEXITED(status));
  for (const char* shot : {"runs.png", "runs_filtered.png", "compare.png", "run.png"})
    CHECK(fs::exists(fs::path(shots) / shot));
}
