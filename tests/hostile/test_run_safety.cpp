// A run's store and checkpoints stay consistent and have one writer: a second
// `--resume` is refused while the first runs; a resume that would drop stored
// epochs is refused unless --restart; a kill between best.pt and last.pt
// resumes to the uninterrupted run's results.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "../helpers.h"
#include "trex/store/store.h"

#include <catch2/catch.hpp>

#include "../run_records.h"  // after Catch: it checks

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

const char* kSpec = R"(name: safety
seed: 5
data: {type: fashion_mnist, limit: 600, val_fraction: 0.2}
augment: {train: [rescale], eval: [rescale]}
model: {type: seed_cnn}
train: {epochs: 3, batch_size: 64, threads: 1, workers: 1, optimizer: {type: sgd, lr: 0.05, momentum: 0.9},
        checkpoint: {monitor: val_accuracy, keep: both}}
)";

std::string trex_cmd(const std::string& store, const std::string& args) {
  return trex_binary() + " " + args + " --store " + store + " -q --no-report";
}

std::string only_run(const std::string& store) {
  const auto runs = Store(store, true).runs();
  REQUIRE(runs.size() == 1);
  return runs[0].id;
}

/// Starts a run that stops at `point` of `epoch` (TREX_FAULT_*); returns its pid once it is there.
pid_t run_until(const std::string& store, const std::string& spec, const std::string& point, const std::string& epoch,
                const std::string& marker) {
  const pid_t pid = spawn(trex_cmd(store, "run " + spec),
                          {{"TREX_FAULT_POINT", point}, {"TREX_FAULT_EPOCH", epoch}, {"TREX_FAULT_MARKER", marker}});
  for (int i = 0; i < 1200 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(marker));
  return pid;
}

void kill_now(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace

TEST_CASE("a second writer of a running run is refused with the holder's pid", "[hostile][e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), kSpec), store = d.file("trex.db");
  // Stopped at the start of epoch 2, outside any store transaction: the second writer must hear of the
  // holder at once (inside the first one's commit it waits for SQLite's lock first).
  const pid_t first = run_until(store, spec, "train_epoch", "2", d.file("marker"));
  const std::string id = only_run(store);
  const auto second = run_command(trex_cmd(store, "run --resume " + id));
  INFO(second.output);
  CHECK(second.exit_code != 0);
  CHECK_THAT(second.output, Contains("run " + id + " is being written by pid " + std::to_string(first)));
  kill_now(first);
  const auto resumed = run_command(trex_cmd(store, "run --resume " + id));
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(Store(store, true).run(id).status == "completed");
}

TEST_CASE("a resume that would drop stored epochs is refused, and --restart starts again", "[hostile][e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), kSpec), store = d.file("trex.db");
  kill_now(run_until(store, spec, "commit", "3", d.file("marker")));
  const std::string id = only_run(store);
  REQUIRE(Store(store, true).last_epoch(id) == 2);
  fs::remove(fs::path(Store(store, true).run_dir(id, false)) / "checkpoints" / "last.pt");
  const auto refused = run_command(trex_cmd(store, "run --resume " + id));
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.output, Contains("has 2 stored epochs but") && Contains("last.pt is missing") &&
                                 Contains("trex run --resume " + id + " --restart"));
  CHECK(Store(store, true).last_epoch(id) == 2);  // nothing was dropped
  CHECK(run_command(trex_cmd(store, "run --restart " + spec)).exit_code != 0);
  const auto restarted = run_command(trex_cmd(store, "run --resume " + id + " --restart"));
  INFO(restarted.output);
  CHECK(restarted.exit_code == 0);
  CHECK(Store(store, true).run(id).status == "completed");
  CHECK(Store(store, true).last_epoch(id) == 3);
}

TEST_CASE("killed between writing best.pt and last.pt, a run resumes to the uninterrupted run's results",
          "[hostile][e2e]") {
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), kSpec);
  const std::string ref = d.file("ref.db"), store = d.file("trex.db");
  REQUIRE(run_command(trex_cmd(ref, "run " + spec)).exit_code == 0);
  const auto expected = stored_metrics(ref, only_run(ref));
  // Epoch 1 always improves on nothing, so best.pt is written there.
  kill_now(run_until(store, spec, "between_checkpoints", "1", d.file("marker")));
  const std::string id = only_run(store);
  const auto resumed = run_command(trex_cmd(store, "run --resume " + id));
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  check_metrics_close(expected, stored_metrics(store, id), 0.0, 10);  // test metrics too: the same best.pt
}
