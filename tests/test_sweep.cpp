// Sweeps: samplers (grid, random, TPE against random on known functions),
// pruners, the sweep block's errors, concurrent writers to one store, and the
// trex sweep command end to end: parallel trials, SIGKILL + resume, shards + merge.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "helpers.h"
#include "trex/sweep/pruner.h"
#include "trex/sweep/sampler.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/sweep/sweep_store.h"
#include "trex/config/yaml_loader.h"
#include "trex/registry/diagnostics.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

SweepConfig sweep_of(const std::string& yaml) { return parse_sweep(parse_yaml(yaml, "sweep.yaml"), "sweep.yaml"); }

std::string sweep_error(const std::string& yaml) {
  try {
    sweep_of(yaml);
  } catch (const SpecError& e) {
    std::string out;
    for (const auto& i : e.issues()) out += i.path + ": " + i.message + "\n";
    return out;
  }
  return "(no error)";
}

// --- known test functions (minimised) ---------------------------------------------
struct TestFunction {
  std::string name;
  std::string space;  // YAML parameters block
  std::function<double(const std::vector<SearchParam>&, const Point&)> f;
};

std::vector<TestFunction> test_functions() {
  return {
      {"branin", "x1: {uniform: [-5, 10]}\n    x2: {uniform: [0, 15]}",
       [](const auto& s, const Point& p) {
         const double x1 = s[0].to_value(p[0]), x2 = s[1].to_value(p[1]);
         const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
         return std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
       }},
      {"shifted_sphere_6d",
       "a: {uniform: [-5, 5]}\n    b: {uniform: [-5, 5]}\n    c: {uniform: [-5, 5]}\n    d: {uniform: [-5, 5]}\n"
       "    e: {uniform: [-5, 5]}\n    f: {uniform: [-5, 5]}",
       [](const auto& s, const Point& p) {
         double sum = 0;
         for (std::size_t i = 0; i < p.size(); ++i) sum += std::pow(s[i].to_value(p[i]) - 1.3, 2);
         return sum;
       }},
      {"mixed",
       "opt: {choice: [sgd, adam, rmsprop, adamw]}\n    lr: {log_uniform: [1.0e-5, 1.0]}\n"
       "    u: {uniform: [0, 1]}\n    k: {int_uniform: [1, 20]}",
       [](const auto& s, const Point& p) {
         const double offsets[] = {2, 0, 3, 1};
         return offsets[static_cast<int>(s[0].to_value(p[0]))] + std::pow(std::log10(s[1].to_value(p[1])) + 3, 2) +
                4 * std::pow(s[2].to_value(p[2]) - 0.7, 2) + std::pow((s[3].to_value(p[3]) - 13) / 5, 2);
       }},
  };
}

double best_found(const SweepConfig& c, const TestFunction& fn, int trials) {
  std::vector<Observation> history;
  double best = 1e300;
  for (int i = 0; i < trials; ++i) {
    const Point p = sample(c, i, history);
    const double y = fn.f(c.params, p);
    history.push_back({p, y});
    best = std::min(best, y);
  }
  return best;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

TEST_CASE("grid covers the grid once - random respects the space and the seed", "[sweep]") {
  auto grid = sweep_of("method: grid\nparameters:\n  a: {choice: [1, 2, 3]}\n  b: {choice: [x, y]}\n");
  REQUIRE(grid.configurations() == 6);
  std::set<std::string> cells;
  for (int i = 0; i < 6; ++i) {
    const Point p = sample(grid, i, {});
    cells.insert(grid.params[0].to_text(p[0]) + grid.params[1].to_text(p[1]));
  }
  CHECK(cells == std::set<std::string>{"1x", "1y", "2x", "2y", "3x", "3y"});

  const std::string space =
      "parameters:\n  lr: {log_uniform: [1.0e-4, 1.0e-1]}\n  bs: {choice: [64, 128, 256]}\n  p: {uniform: [0.0, 1.0]}\n"
      "  k: {int_uniform: [2, 5]}\n";
  for (const char* method : {"random", "tpe"}) {
    INFO(method);
    auto c = sweep_of(std::string("method: ") + method + "\nseed: 3\ntrials: 200\n" + space);
    std::vector<Observation> history;
    std::set<std::string> bs, ks;
    int low_decade = 0;
    for (int i = 0; i < 200; ++i) {
      const Point p = sample(c, i, history);
      const double lr = c.params[0].to_value(p[0]);
      CHECK((lr >= 1e-4 && lr <= 1e-1));
      low_decade += lr < 1e-3;
      bs.insert(c.params[1].to_text(p[1]));
      const double u = c.params[2].to_value(p[2]);
      CHECK((u >= 0 && u <= 1));
      const std::string k = c.params[3].to_text(p[3]);
      CHECK(std::stod(k) == std::floor(std::stod(k)));
      ks.insert(k);
      history.push_back({p, std::abs(std::log10(lr) + 2.5)});
    }
    CHECK(bs == std::set<std::string>{"64", "128", "256"});
    CHECK(ks == std::set<std::string>{"2", "3", "4", "5"});
    if (std::string(method) == "random") CHECK((low_decade > 40 && low_decade < 95));  // log-uniform: ~1/3 per decade
  }
  auto a = sweep_of("seed: 1\n" + space), b = sweep_of("seed: 1\n" + space), other = sweep_of("seed: 2\n" + space);
  for (int i = 0; i < 5; ++i) {
    CHECK(sample(a, i, {}) == sample(b, i, {}));
    CHECK(sample(a, i, {}) != sample(other, i, {}));
  }
}

TEST_CASE("TPE finds better values than random search on known functions (median over 25 seeds)", "[sweep]") {
  constexpr int kSeeds = 25, kTrials = 60;
  for (const auto& fn : test_functions()) {
    std::map<std::string, std::vector<double>> bests;
    for (const char* method : {"random", "tpe"})
      for (int seed = 0; seed < kSeeds; ++seed) {
        auto c = sweep_of(
            fmt::format("method: {}\nseed: {}\ntrials: {}\nparameters:\n    {}\n", method, seed, kTrials, fn.space));
        bests[method].push_back(best_found(c, fn, kTrials));
      }
    const double r = median(bests["random"]), t = median(bests["tpe"]);
    std::cout << fmt::format("{}: median best over {} seeds, {} trials: random {:.4f}, tpe {:.4f}\n", fn.name, kSeeds,
                             kTrials, r, t);
    INFO(fn.name << " random " << r << " tpe " << t);
    CHECK(t < r);
  }
}

TEST_CASE("pruners: the median rule and ASHA rungs", "[sweep]") {
  PrunerConfig median_cfg;
  median_cfg.method = "median";
  median_cfg.warmup_epochs = 2;
  median_cfg.startup_trials = 3;
  CHECK(median_prune(0.1, {0.5, 0.6, 0.7}, 2, median_cfg, true).empty());  // warm-up
  CHECK(median_prune(0.1, {0.5, 0.6}, 3, median_cfg, true).empty());       // too few completed
  CHECK_THAT(median_prune(0.55, {0.5, 0.6, 0.7}, 3, median_cfg, true), Contains("median 0.6"));
  CHECK(median_prune(0.65, {0.5, 0.6, 0.7}, 3, median_cfg, true).empty());
  CHECK(median_prune(0.4, {0.5, 0.6, 0.3, 0.7}, 3, median_cfg, false).empty());  // minimising: 0.4 < 0.55
  CHECK(!median_prune(0.6, {0.5, 0.6, 0.3, 0.7}, 3, median_cfg, false).empty());

  PrunerConfig asha;
  asha.method = "asha";
  asha.warmup_epochs = 0;
  asha.min_epochs = 1;
  asha.reduction_factor = 3;
  CHECK(is_asha_rung(1, asha));
  CHECK(is_asha_rung(3, asha));
  CHECK(is_asha_rung(9, asha));
  CHECK(!is_asha_rung(2, asha));
  CHECK(!is_asha_rung(4, asha));
  CHECK(asha_prune(0.1, {}, 1, asha, true).empty());                          // alone at the rung
  CHECK(asha_prune(0.1, {0.9, 0.8, 0.7, 0.6, 0.5}, 2, asha, true).empty());   // not a rung
  CHECK(!asha_prune(0.1, {0.9, 0.8, 0.7, 0.6, 0.5}, 3, asha, true).empty());  // 6 at the rung: top 2 go on
  CHECK(asha_prune(0.85, {0.9, 0.8, 0.7, 0.6, 0.5}, 3, asha, true).empty());
  CHECK(!asha_prune(0.75, {0.9, 0.8, 0.7, 0.6, 0.5}, 3, asha, true).empty());
  CHECK(asha_prune(0.2, {0.9, 0.8, 0.7, 0.6, 0.5}, 3, asha, false).empty());  // minimising
}

TEST_CASE("sweep block errors name the key and the fix", "[sweep]") {
  CHECK(sweep_error("method: grid\nparameters:\n  lr: {uniform: [0, 1]}\n") ==
        "sweep.parameters.lr: grid search takes {choice: [...]} lists only\n");
  CHECK(sweep_error("method: bayes\nparameters:\n  lr: {uniform: [0, 1]}\n") ==
        "sweep.method: expected one of grid, random, tpe, not 'bayes'\n");
  CHECK(sweep_error("parameters:\n  lr: {uniform: [1, 0]}\n") ==
        "sweep.parameters.lr.uniform: expected [low, high] with low < high\n");
  CHECK(sweep_error("parameters:\n  lr: {log_uniform: [0, 1]}\n") ==
        "sweep.parameters.lr.log_uniform: log_uniform needs low > 0\n");
  CHECK(sweep_error("parameters:\n  lr: {normal: [0, 1]}\n") ==
        "sweep.parameters.lr: expected one of choice, uniform, log_uniform, int_uniform, not 'normal'\n");
  CHECK(sweep_error("trails: 3\nparameters:\n  lr: {uniform: [0, 1]}\n") ==
        "sweep.trails: unknown key (did you mean 'trials'?)\n");
  CHECK(sweep_error("parameters:\n  lr: {uniform: [0, 1]}\nobjective: {metric: accuracy}\n") ==
        "sweep.objective.metric: a metric is <split>_<name>, e.g. val_accuracy or val_loss\n");
  CHECK(sweep_error("parameters:\n  lr: {uniform: [0, 1]}\npruner: {method: hyperband}\n") ==
        "sweep.pruner.method: expected one of none, median, asha, not 'hyperband'\n");
  CHECK(sweep_error("method: random\n") == "sweep.parameters: a sweep needs at least one parameter\n");
}

TEST_CASE("4 processes writing 200 epochs each to one store: no lock errors, no lost rows", "[sweep][store]") {
  TempDir d;
  const std::string path = d.file("s.db");
  { Store s(path); }
  std::vector<pid_t> children;
  for (int w = 0; w < 4; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        Store store(path);
        RunRecord r;
        r.id = "writer" + std::to_string(w);
        r.name = r.experiment = "concurrency";
        r.start_time = now_seconds();
        r.host = host_name();
        r.pid = getpid();
        r.spec_yaml = "name: concurrency";
        r.spec_hash = "h";
        store.create_run(r, {{"worker", std::to_string(w), "int"}});
        for (std::int64_t e = 1; e <= 200; ++e)
          store.record_epoch(r.id, e,
                             {{e, "train", "loss", 1.0 / static_cast<double>(e), 0.1},
                              {e, "train", "accuracy", 0.5, 0.1},
                              {e, "val", "loss", 2.0 / static_cast<double>(e), 0.1},
                              {e, "val", "accuracy", 0.4, 0.1}},
                             {{"loss", false}, {"accuracy", true}}, 0.01);
        store.set_status(r.id, RunStatus::Completed);
      } catch (const std::exception& e) {
        std::cerr << "writer " << w << ": " << e.what() << "\n";
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  int failures = 0;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK(failures == 0);
  Store store(path, true);
  auto count = [&](const std::string& q) {
    auto s = store.db().prepare(q);
    s.step();
    return s.integer(0);
  };
  CHECK(count("SELECT count(*) FROM metrics") == 4 * 200 * 4);
  CHECK(count("SELECT count(*) FROM epochs") == 4 * 200);
  CHECK(count("SELECT count(*) FROM runs WHERE status = 'completed'") == 4);
  CHECK(count("SELECT count(*) FROM summaries WHERE key = 'val_loss' AND best_epoch = 200") == 4);
}

// --- the trex sweep command ------------------------------------------------------
namespace {

std::string tiny_sweep(const std::string& block, int epochs = 2) {
  return "name: tiny_sweep\nseed: 1\ndata: {type: fashion_mnist, limit: 300, val_fraction: 0.2}\n"
         "augment:\n  train: [{type: normalize, mean: [0.286], std: [0.353]}]\n"
         "  eval: [{type: normalize, mean: [0.286], std: [0.353]}]\n"
         "model: {type: seed_cnn}\n"
         "train: {epochs: " +
         std::to_string(epochs) +
         ", batch_size: 32, workers: 1, threads: 1, optimizer: {type: adam, lr: 0.001}, "
         "checkpoint: {monitor: val_accuracy}}\n"
         "metrics: [accuracy, loss]\n"
         "sweep:\n" +
         block;
}

std::string sweep_cmd(const TempDir& d, const std::string& spec, const std::string& store,
                      const std::string& extra = "") {
  return trex_binary() + " sweep " + d.file(spec) + " --store " + d.file(store) + " --plugin-path " + plugin_dir() +
         " " + extra;
}

std::string only_sweep_id(Store& store) {
  auto sweeps = list_sweeps(store);
  REQUIRE(sweeps.size() == 1);
  return sweeps.front().id;
}

}  // namespace

TEST_CASE("trex sweep runs trials as linked runs, in parallel, and ranks them", "[sweep][cli][slow]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             tiny_sweep("  method: grid\n  parameters:\n    train.optimizer.lr: {choice: [0.001, 0.01]}\n"
                        "    train.batch_size: {choice: [16, 32]}\n  seeds: [1, 2]\n  parallel: 2\n"
                        "  objective: {metric: val_loss, mode: min}\n"));
  auto r = run_command(sweep_cmd(d, "s.yaml", "s.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("8 completed, 0 pruned, 0 failed"));
  Store store(d.file("s.db"), true);
  const std::string id = only_sweep_id(store);
  const auto trials = list_trials(store, id);
  REQUIRE(trials.size() == 8);
  std::set<std::string> configs;
  for (const auto& t : trials) {
    CHECK(t.state == "completed");
    const RunRecord run = store.run(t.run_id);
    CHECK(run.sweep_id == id);
    CHECK(run.trial == t.number);
    CHECK(run.seed == *t.seed);
    CHECK(*t.objective == *run_objective(store, t.run_id, {"val_loss", false, "best"}));
    std::map<std::string, std::string> params;
    for (const auto& p : store.params(t.run_id)) params[p.key] = p.value;
    CHECK(params["train.threads"] == "1");
    for (const auto& [key, value] : t.values()) CHECK(std::stod(params[key]) == std::stod(value));
    configs.insert(t.label());
  }
  CHECK(configs.size() == 4);
  // Two at a time: the second trial's process was started before the first one ended. (The runs' own
  // start and end times need not overlap: on a loaded machine one process can finish its tiny run
  // before the other has loaded LibTorch and opened its record.)
  const auto second_started = r.output.find("trial   1 started"), first_ended = r.output.find("trial   0 completed");
  REQUIRE(second_started != std::string::npos);
  REQUIRE(first_ended != std::string::npos);
  CHECK(second_started < first_ended);
  auto best = run_command(trex_binary() + " best " + id + " --store " + d.file("s.db") + " --format csv");
  CHECK(best.exit_code == 0);
  CHECK_THAT(best.output, Contains(",2,"));  // n = 2 seeds per configuration
  auto status = run_command(trex_binary() + " sweep status " + id + " --store " + d.file("s.db"));
  CHECK_THAT(status.output, Contains("best so far: trial"));
  auto where = run_command(trex_binary() + " runs --count --where \"sweep = '" + id +
                           "' and params.train.batch_size = 16\" --store " + d.file("s.db"));
  CHECK(where.output == "4\n");
}

TEST_CASE("a SIGKILLed sweep leaves no trial running and resumes without losing or repeating trials",
          "[sweep][cli][slow]") {
  TempDir d;
  write_file(d.file("s.yaml"), tiny_sweep("  method: random\n  trials: 5\n  seed: 3\n  parallel: 2\n"
                                          "  parameters:\n    train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n"));
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string log = d.file("first.log");
    freopen(log.c_str(), "w", stdout);
    execl("/bin/sh", "sh", "-c", ("exec " + sweep_cmd(d, "s.yaml", "s.db")).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once one trial has finished and others are running.
  std::vector<std::string> completed_before;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    if (!fs::exists(d.file("s.db"))) continue;
    int done = 0, running = 0;
    try {
      Store probe(d.file("s.db"), true);
      auto sweeps = list_sweeps(probe);
      if (sweeps.empty()) continue;
      for (const auto& t : list_trials(probe, sweeps.front().id))
        done += t.state == "completed", running += t.state == "running";
    } catch (const sql::Error&) {
      continue;  // the sweep is still creating the store's tables
    }
    if (done >= 1 && running >= 1) break;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  // The kernel delivers the trials' death signal at once; give a loaded machine a few seconds.
  for (int i = 0; i < 50; ++i) {
    Store probe(d.file("s.db"), true);
    bool any_alive = false;
    for (const auto& r : probe.runs()) any_alive |= r.status != "completed" && process_alive(r.pid);
    if (!any_alive) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string sweep_id;
  std::map<std::int64_t, std::string> done_runs;
  {
    Store store(d.file("s.db"), true);
    sweep_id = only_sweep_id(store);
    for (const auto& t : list_trials(store, sweep_id))
      if (t.state == "completed") done_runs[t.number] = t.run_id;
    // No orphans: every trial process died with the sweep.
    for (const auto& r : store.runs()) {
      INFO(r.id);
      CHECK(r.status != "running");
      CHECK((!process_alive(r.pid) || r.status == "completed"));
    }
  }
  REQUIRE(!done_runs.empty());
  auto resumed = run_command(sweep_cmd(d, "s.yaml", "s.db", "--resume"));
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  Store store(d.file("s.db"), true);
  CHECK(only_sweep_id(store) == sweep_id);
  const auto trials = list_trials(store, sweep_id);
  REQUIRE(trials.size() == 5);
  std::set<std::string> runs;
  for (const auto& t : trials) {
    CHECK(t.state == "completed");
    runs.insert(t.run_id);
    if (done_runs.count(t.number)) CHECK(done_runs[t.number] == t.run_id);  // kept, not re-run
  }
  CHECK(runs.size() == 5);
  // The random draws did not change across the kill: trial i has the same point as a fresh sampler's i.
  const SweepConfig config = stored_sweep_config(*find_sweep(store, sweep_id));
  for (const auto& t : trials)
    CHECK(t.values().front().second == config.params[0].to_text(sample(config, t.config, {})[0]));
  // Completed runs: exactly one per trial; the killed ones are kept as interrupted.
  int completed = 0;
  for (const auto& r : store.runs()) completed += r.status == "completed";
  CHECK(completed == 5);
}

TEST_CASE("shards of a sweep in separate stores merge into one sweep", "[sweep][cli][slow]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             tiny_sweep("  method: grid\n  parameters:\n    train.optimizer.lr: {choice: [0.001, 0.003, 0.01]}\n"));
  for (int i = 0; i < 2; ++i) {
    auto r = run_command(sweep_cmd(d, "s.yaml", "shard" + std::to_string(i) + "/s.db", fmt::format("--shard {}/2", i)));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  CHECK(run_command(sweep_cmd(d, "s.yaml", "x.db", "--shard 2/2")).output ==
        "trex: --shard '2/2': expected I/N with 0 <= I < N, e.g. --shard 0/4\n");
  auto m = run_command(trex_binary() + " merge " + d.file("shard0/s.db") + " " + d.file("shard1/s.db") + " --into " +
                       d.file("all/s.db"));
  INFO(m.output);
  REQUIRE(m.exit_code == 0);
  CHECK_THAT(m.output, Contains("2 runs added, 0 already present; 1 sweeps added, 0 joined; 2 trials added"));
  CHECK_THAT(m.output, Contains("1 runs added, 0 already present; 0 sweeps added, 1 joined; 1 trials added"));
  auto again = run_command(trex_binary() + " merge " + d.file("shard1/s.db") + " --into " + d.file("all/s.db"));
  CHECK_THAT(again.output, Contains("0 runs added, 1 already present"));
  Store store(d.file("all/s.db"), true);
  const std::string id = only_sweep_id(store);
  const auto trials = list_trials(store, id);
  REQUIRE(trials.size() == 3);
  std::set<std::string> lrs;
  for (const auto& t : trials) {
    CHECK(t.state == "completed");
    CHECK(store.run(t.run_id).sweep_id == id);
    CHECK(fs::exists(fs::path(store.run_dir(t.run_id, false)) / "checkpoints"));
    lrs.insert(t.values().front().second);
  }
  CHECK(lrs == std::set<std::string>{"0.001", "0.003", "0.01"});
  for (int n = 0; n < 3; ++n)
    CHECK(fs::exists(d.path() / "all" / "sweeps" / id / ("trial-" + std::to_string(n) + ".log")));
  CHECK(store.runs().size() == 3);
}

TEST_CASE("a trial that crashes is recorded as failed with its reason - a lagging one is pruned",
          "[sweep][cli][slow]") {
  TempDir d;
  // One at a time, so the median has three finished trials when the slow learner reports.
  write_file(
      d.file("s.yaml"),
      tiny_sweep("  method: grid\n  parameters:\n    train.optimizer.lr: {choice: [0.003, 0.002, 0.004, 1.0e-7]}\n"
                 "  pruner: {method: median, warmup_epochs: 1, startup_trials: 3}\n",
                 3));
  auto r = run_command(sweep_cmd(d, "s.yaml", "s.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("3 completed, 1 pruned, 0 failed"));
  Store store(d.file("s.db"), true);
  const auto trials = list_trials(store, only_sweep_id(store));
  REQUIRE(trials.size() == 4);
  CHECK(trials[3].state == "pruned");
  CHECK_THAT(trials[3].reason, Contains("median rule at epoch 2"));
  CHECK(store.run(trials[3].run_id).status == "pruned");
  CHECK(store.metrics(trials[3].run_id).back().epoch == 2);  // stopped there

  // A trial whose process fails (here: its data folder is missing) fails alone.
  write_file(d.file("f.yaml"), tiny_sweep("  method: grid\n  parameters:\n    data.root: {choice: ['" +
                                          std::string(fashion_root()) + "', '" + d.file("missing") + "/']}\n"));
  auto f = run_command(sweep_cmd(d, "f.yaml", "f.db"));
  INFO(f.output);
  CHECK(f.exit_code == 0);
  CHECK_THAT(f.output, Contains("1 completed, 0 pruned, 1 failed"));
  Store fstore(d.file("f.db"), true);
  const auto ft = list_trials(fstore, only_sweep_id(fstore));
  REQUIRE(ft.size() == 2);
  CHECK(ft[0].state == "completed");
  CHECK(ft[1].state == "failed");
  CHECK_THAT(ft[1].reason, Contains("ended before its run started (exit 1: trex: ") && Contains("missing"));
}
