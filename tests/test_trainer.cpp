// End to end: trex run on real Fashion-MNIST, resume bit for bit, and SIGKILL
// at random and at chosen moments (inside the epoch commit, inside the
// checkpoint write) leaving a consistent, resumable store.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "helpers.h"
#include "trex/inference/predict.h"
#include "trex/store/store.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

const char* kSpec = R"(name: e2e
seed: 3
data: {type: fashion_mnist, limit: 700, val_fraction: 0.15}
augment:
  train: [{type: random_crop, padding: 2}, {type: random_flip}, {type: normalize, mean: [0.286], std: [0.353]}]
  eval: [{type: normalize, mean: [0.286], std: [0.353]}]
model: {type: seed_cnn}
train: {epochs: 4, batch_size: 64, threads: 2, workers: 2, optimizer: {type: sgd, lr: 0.05, momentum: 0.9},
        schedule: {type: cosine}}
metrics: [accuracy, top3_accuracy]
)";

std::string trex_cmd(const std::string& store, const std::string& args) {
  return trex_binary() + " " + args + " --store " + store + " -q";
}

/// Per-epoch metrics of a run as "epoch split name value" lines, values printed exactly.
std::vector<std::string> epoch_rows(const std::string& store_path, const std::string& run_id) {
  Store s(store_path, true);
  std::vector<std::string> out;
  for (const auto& m : s.metrics(run_id)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", m.value);  // hex float: bit-exact comparison
    out.push_back(std::to_string(m.epoch) + " " + m.split + " " + m.name + " " + buf);
  }
  return out;
}

std::string latest_run(const std::string& store_path) {
  Store s(store_path, true);
  auto runs = s.runs();
  return runs.empty() ? "" : runs.back().id;
}

/// Starts `trex run` in its own process and returns its pid.
void check_consistent(const std::string& store_path, const std::string& run_id) {
  Store s(store_path, true);
  auto q = s.db().prepare("PRAGMA integrity_check");
  q.step();
  CHECK(q.text(0) == "ok");
  // Every epoch present once, with the same keys, in a gap-free prefix.
  auto dup = s.db().prepare(
      "SELECT COUNT(*) FROM (SELECT epoch, split, name, COUNT(*) c FROM metrics WHERE run_id=? GROUP BY 1,2,3 HAVING c "
      "> 1)");
  dup.bind_all(run_id);
  dup.step();
  CHECK(dup.integer(0) == 0);
  auto ep = s.db().prepare(
      "SELECT COUNT(DISTINCT epoch), COALESCE(MAX(epoch), 0) FROM metrics WHERE run_id=? AND split != 'test'");
  ep.bind_all(run_id);
  ep.step();
  CHECK(ep.integer(0) == ep.integer(1));
}

}  // namespace

TEST_CASE("trex run trains on Fashion-MNIST and records the run", "[e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("e2e.yaml"), kSpec), store = d.file("trex.db");
  auto r = run_command(trex_cmd(store, "run " + spec));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string id = latest_run(store);
  Store s(store, true);
  auto run = s.run(id);
  CHECK(run.status == "completed");
  CHECK(run.class_names.size() == 10);
  CHECK(run.main_metric == "val_accuracy");
  CHECK_THAT(run.spec_yaml, Contains("momentum: 0.9"));
  auto rows = s.metrics(id);
  // 4 epochs x (train, val) x (accuracy, top3, loss) + 3 test metrics.
  CHECK(rows.size() == 4 * 2 * 3 + 3);
  std::map<std::string, SummaryRow> summary;
  for (auto& x : s.summaries(id)) summary[x.key] = x;
  CHECK(summary.at("val_accuracy").best >= summary.at("val_accuracy").last);
  CHECK(summary.at("train_loss").last < summary.at("train_loss").max);  // it learned something
  CHECK(summary.at("test_accuracy").last > 0.5);
  auto params = s.params(id);
  auto has = [&](const std::string& key, const std::string& value) {
    return std::any_of(params.begin(), params.end(),
                       [&](const ParamRow& p) { return p.key == key && p.value == value; });
  };
  CHECK(has("train.optimizer.lr", "0.05"));
  CHECK(has("data.sizes.test", "700"));
  CHECK(has("augment.train.0.padding", "2"));
  auto artifacts = s.artifacts(id);
  CHECK(std::any_of(artifacts.begin(), artifacts.end(),
                    [](const ArtifactRow& a) { return a.kind == "test_predictions"; }));
  const std::string predictions = read_file(s.folder() + "/runs/" + id + "/test_predictions.csv");
  CHECK(std::count(predictions.begin(), predictions.end(), '\n') == 701);
  CHECK(fs::exists(s.folder() + "/runs/" + id + "/checkpoints/best.pt"));
  // The test set's classification report is stored as an evaluation, its confusion matrix as a file.
  auto report = s.db().prepare(
      "SELECT e.source, e.checkpoint, COUNT(c.class_index), SUM(c.support) FROM evaluations e "
      "JOIN evaluation_classes c ON c.evaluation_id = e.id WHERE e.run_id = ?");
  report.bind_all(id);
  REQUIRE(report.step());
  CHECK(report.text(0) == "split:test");
  CHECK(report.text(1) == "best");
  CHECK(report.integer(2) == 10);
  CHECK(report.integer(3) == 700);
  const std::string cm = read_file(s.folder() + "/runs/" + id + "/confusion_matrix.csv");
  std::int64_t total = 0;
  std::istringstream lines(cm);
  std::string row;
  std::getline(lines, row);
  CHECK_THAT(row, Contains("\"Ankle boot\""));
  while (std::getline(lines, row)) {
    std::stringstream cells(row);
    std::string cell;
    std::getline(cells, cell, ',');  // the class name
    while (std::getline(cells, cell, ',')) total += std::stoll(cell);
  }
  CHECK(total == 700);
  CHECK(resolve_checkpoint(s, id) == s.folder() + "/runs/" + id + "/checkpoints/best.pt");
  CHECK(resolve_checkpoint(s, "run:e2e@last") == s.folder() + "/runs/" + id + "/checkpoints/last.pt");
  CHECK_THROWS_WITH(resolve_checkpoint(s, id + "@worst"), Contains("a checkpoint is RUN@best or RUN@last"));
}

TEST_CASE("the same seed gives the same run whatever the number of loader threads", "[e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("e2e.yaml"), kSpec);
  std::vector<std::vector<std::string>> results;
  // Inline (the default on a CPU), then one and three loader threads.
  for (const char* workers : {"0", "1", "3"}) {
    const std::string store = d.file(std::string("w") + workers + ".db");
    auto r =
        run_command(trex_cmd(store, "run " + spec + " --set train.epochs=2 --set train.loader=" +
                                        (workers[0] == '0' ? "auto" : "threads") + " --set train.workers=" + workers));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    results.push_back(epoch_rows(store, latest_run(store)));
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

TEST_CASE("a run that is SIGKILLed anywhere resumes to the uninterrupted run's metrics, bit for bit", "[e2e][slow]") {
  TempDir d;
  const std::string spec = write_file(d.file("e2e.yaml"), kSpec);
  const std::string ref_store = d.file("ref.db");
  auto ref = run_command(trex_cmd(ref_store, "run " + spec));
  REQUIRE(ref.exit_code == 0);
  const auto expected = epoch_rows(ref_store, latest_run(ref_store));

  // False when the kill came before the run record existed: nothing to resume.
  auto resume_and_compare = [&](const std::string& store) {
    const std::string id = latest_run(store);
    if (id.empty()) return false;
    check_consistent(store, id);
    if (Store(store, true).run(id).status != "completed") {  // a late kill may land after the end
      auto again = run_command(trex_cmd(store, "run --resume " + id));
      INFO(again.output);
      REQUIRE(again.exit_code == 0);
    }
    check_consistent(store, id);
    CHECK(epoch_rows(store, id) == expected);
    Store s(store, true);
    CHECK(s.run(id).status == "completed");
    return true;
  };

  SECTION("killed inside the epoch commit and inside the checkpoint write") {
    for (const char* point : {"commit", "checkpoint"}) {
      for (const char* epoch : {"1", "3"}) {
        INFO(point << " at epoch " << epoch);
        const std::string store = d.file(std::string(point) + epoch + ".db"), marker = d.file("marker");
        fs::remove(marker);
        pid_t pid = spawn(trex_cmd(store, "run " + spec),
                          {{"TREX_FAULT_POINT", point}, {"TREX_FAULT_EPOCH", epoch}, {"TREX_FAULT_MARKER", marker}});
        for (int i = 0; i < 600 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        REQUIRE(fs::exists(marker));
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        CHECK(resume_and_compare(store));  // at a fault point the record exists
      }
    }
  }
  SECTION("killed at seeded random moments") {
    std::mt19937 rng(2024);
    std::uniform_int_distribution<int> ms(300, 6000);
    int compared = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
      const std::string store = d.file("random" + std::to_string(attempt) + ".db");
      pid_t pid = spawn(trex_cmd(store, "run " + spec));
      const int wait = ms(rng);
      INFO("kill after " << wait << " ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      if (fs::exists(store) && resume_and_compare(store)) ++compared;
    }
    CHECK(compared >= 3);  // the seeded waits are 3.7-4.6 s: the record exists by then
  }
}

TEST_CASE("SIGINT stops a run as interrupted with a checkpoint to resume from", "[e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("e2e.yaml"), kSpec), store = d.file("trex.db");
  pid_t pid = spawn(trex_cmd(store, "run " + spec + " --set train.epochs=6"));
  // Interrupt once the first epoch is in the store.
  auto epochs_done = [&] {
    if (!fs::exists(store)) return 0L;
    try {
      Store s(store, true);
      auto q = s.db().prepare("SELECT COUNT(*) FROM metrics");
      q.step();
      return static_cast<long>(q.integer(0));
    } catch (const std::exception&) {
      return 0L;
    }
  };
  for (int i = 0; i < 1200 && epochs_done() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(epochs_done() > 0);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const std::string id = latest_run(store);
  Store s(store, true);
  CHECK(s.run(id).status == "interrupted");
  CHECK_THAT(s.run(id).error, Contains("interrupted by a signal"));
  auto r = run_command(trex_cmd(store, "run --resume " + id));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  Store after(store, true);
  CHECK(after.run(id).status == "completed");
  check_consistent(store, id);
}

TEST_CASE("a diverging loss fails the run naming epoch and batch", "[e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("e2e.yaml"), kSpec), store = d.file("trex.db");
  auto r = run_command(trex_cmd(store, "run " + spec + " --set train.optimizer.lr=1000 --set train.epochs=3"));
  CHECK(r.exit_code == 1);
  Store s(store, true);
  auto run = s.run(latest_run(store));
  CHECK(run.status == "failed");
  CHECK_THAT(run.error, Contains("loss became") && Contains("at epoch ") && Contains("batch "));
}

TEST_CASE("fine-tuning: the backbone unfreezes at the set epoch, at its own lr, and resumes exactly",
          "[e2e][transfer]") {
  TempDir d;
  const std::string spec = write_file(d.file("ft.yaml"), R"(name: finetune
seed: 4
data: {type: fashion_mnist, limit: 400}
augment: {train: [random_flip, normalize], eval: [normalize]}
model:
  backbone: {type: seed_cnn, classes: 10, cut: pool, freeze: true}
  head: [global_avg_pool, dense]
train: {epochs: 3, batch_size: 50, unfreeze_at_epoch: 2, threads: 2,
        optimizer: {type: adam, lr: 0.01, param_groups: {backbone: 0.1, head: 1.0}}}
)");
  const std::string ref = d.file("ref.db");
  auto r = run_command(trex_cmd(ref, "run " + spec));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto expected = epoch_rows(ref, latest_run(ref));
  // Killed inside epoch 2's commit (after the unfreeze), resumed: same metrics, bit for bit.
  const std::string store = d.file("killed.db"), marker = d.file("marker");
  pid_t pid = spawn(trex_cmd(store, "run " + spec),
                    {{"TREX_FAULT_POINT", "checkpoint"}, {"TREX_FAULT_EPOCH", "2"}, {"TREX_FAULT_MARKER", marker}});
  for (int i = 0; i < 600 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(marker));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  auto again = run_command(trex_cmd(store, "run --resume " + latest_run(store)));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(epoch_rows(store, latest_run(store)) == expected);
  // With a zero backbone multiplier the unfrozen backbone still does not move.
  const std::string still = d.file("still.db");
  REQUIRE(run_command(trex_cmd(still, "run " + spec + " --set train.optimizer.param_groups.backbone=0.0")).exit_code ==
          0);
  Store s(still, true);
  Registry registry({plugin_dir()});
  TrainedRun trained(s, registry, latest_run(still) + "@last");
  Experiment initial = build_experiment(trained.spec(), registry, &s);  // same seed: the starting weights
  auto init = initial.module->named_parameters();
  std::size_t same = 0, moved = 0;
  for (const auto& p : trained.parts().module->named_parameters()) {
    const bool equal = torch::equal(p.value(), init[p.key()]);
    if (p.key().rfind("backbone.", 0) == 0)
      same += equal;
    else
      moved += !equal;
  }
  CHECK(same == 10);  // conv1, conv2, bn, fc1, classifier: weight and bias (the last two are past the cut)
  CHECK(moved == 2);  // the head's dense layer trained
}

TEST_CASE("weight EMA and test-time augmentation: scored on the average, resumed bit for bit, predict agrees",
          "[e2e][recipe]") {
  TempDir d;
  const std::string spec = write_file(d.file("ema.yaml"), R"(name: ema
seed: 3
data: {type: fashion_mnist, limit: 700, val_fraction: 0.15}
augment:
  train: [{type: random_crop, padding: 2}, {type: random_flip}, {type: normalize, mean: [0.286], std: [0.353]}]
  eval: [{type: normalize, mean: [0.286], std: [0.353]}]
model: {type: resnet_cifar, widths: [8, 16], blocks: [1, 1]}
train: {epochs: 3, batch_size: 64, threads: 2, workers: 2, ema: {decay: 0.9}, tta: {flip: true, translate: 1},
        optimizer: {type: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005, norm_decay_mult: 0},
        schedule: {type: one_cycle, cycle_momentum: true}}
)");
  const std::string ref = d.file("ref.db");
  auto r = run_command(trex_cmd(ref, "run " + spec));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string id = latest_run(ref);
  const auto expected = epoch_rows(ref, id);
  // Killed inside epoch 2's checkpoint write, resumed: the same metrics, bit for bit (the average included).
  const std::string store = d.file("killed.db"), marker = d.file("marker");
  pid_t pid = spawn(trex_cmd(store, "run " + spec),
                    {{"TREX_FAULT_POINT", "checkpoint"}, {"TREX_FAULT_EPOCH", "2"}, {"TREX_FAULT_MARKER", marker}});
  for (int i = 0; i < 600 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(marker));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  auto again = run_command(trex_cmd(store, "run --resume " + latest_run(store)));
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(epoch_rows(store, latest_run(store)) == expected);
  // trex predict scores the test split as the run did: the checkpoint's average, with the run's TTA.
  Store s(ref, true);
  Registry registry({plugin_dir()});
  TrainedRun trained(s, registry, id + "@best");
  const auto rows = trained.predict_split("test", 1, 64);
  double right = 0;
  for (const auto& row : rows) right += row.top.at(0).index == row.label ? 1 : 0;
  double recorded = -1;
  for (const auto& m : s.metrics(id))
    if (m.split == "test" && m.name == "accuracy") recorded = m.value;
  CHECK_THAT(right / static_cast<double>(rows.size()), WithinAbs(recorded, 1e-9));
  // Validation sees the average: with a decay that barely moves from the initial weights, the last epoch scores far
  // below the same run without EMA.
  const std::string slow = d.file("slow.db"), none = d.file("none.db");
  const std::string one = " --set train.tta=false";
  REQUIRE(
      run_command(trex_cmd(slow, "run " + spec + one + " --set train.ema.decay=0.99999 --set train.ema.warmup=false"))
          .exit_code == 0);
  REQUIRE(run_command(trex_cmd(none, "run " + spec + one + " --set train.ema=false")).exit_code == 0);
  auto val_accuracy = [&](const std::string& path) {
    Store st(path, true);
    double last = -1;
    for (const auto& m : st.metrics(latest_run(path)))
      if (m.split == "val" && m.name == "accuracy") last = m.value;
    return last;
  };
  INFO("val accuracy: ema " << val_accuracy(slow) << ", none " << val_accuracy(none));
  CHECK(val_accuracy(slow) + 0.1 < val_accuracy(none));
}

TEST_CASE("train.val_begin and val_interval: val metrics only on the epochs due, training unchanged, best among them",
          "[e2e][recipe]") {
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), kSpec);
  const std::string every = d.file("every.db"), some = d.file("some.db");
  REQUIRE(run_command(trex_cmd(every, "run " + spec)).exit_code == 0);
  auto r = run_command(trex_cmd(some, "run " + spec + " --set train.val_begin=2 --set train.val_interval=2"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto split_rows = [](const std::vector<std::string>& rows, const std::string& split) {
    std::vector<std::string> out;
    for (const auto& row : rows)
      if (row.find(" " + split + " ") != std::string::npos) out.push_back(row);
    return out;
  };
  const auto all = epoch_rows(every, latest_run(every)), part = epoch_rows(some, latest_run(some));
  CHECK(split_rows(part, "train") == split_rows(all, "train"));  // validation does not touch training
  std::vector<std::string> due;                                  // epochs 2 and 4 of 4, as the full run had them
  for (const auto& row : split_rows(all, "val"))
    if (row.rfind("2 ", 0) == 0 || row.rfind("4 ", 0) == 0) due.push_back(row);
  REQUIRE(due.size() == 6);  // accuracy, loss, top3_accuracy at each
  CHECK(split_rows(part, "val") == due);
  Store s(some, true);
  const auto run = s.runs().back();
  CHECK(run.status == "completed");
  double best = -1;
  std::int64_t best_epoch = 0, test_epoch = 0, tests = 0;
  for (const auto& m : s.metrics(run.id)) {
    if (m.split == "val" && m.name == "accuracy" && m.value > best) best = m.value, best_epoch = m.epoch;
    if (m.split == "test" && m.name == "accuracy") test_epoch = m.epoch, ++tests;
  }
  CHECK(tests == 1);
  CHECK(test_epoch == best_epoch);  // scored with the best of the validated epochs' checkpoints
}
