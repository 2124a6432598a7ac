// Data-parallel training on c10d Gloo, on 127.0.0.1: --nproc 2 equals
// --nproc 1, any launcher's variables join workers, a dead worker fails the run
// promptly and the run resumes.
#include <signal.h>

#include <chrono>
#include <thread>

#include "helpers.h"
#include <torch/torch.h>

#include "trex/dist/grad_sync.h"
#include "trex/dist/sync_batch_norm.h"
#include "trex/plugin_kit/batch_norm.h"
#include "trex/store/store.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

#include "run_records.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

// No dropout, no BatchNorm on the path (the cut is before seed_cnn's bn): the
// per-replica state DDP leaves unsynchronised does not exist here. fp32: the
// 1e-4 bar is float rounding's; bf16 autocast (precision: auto on a bf16 CPU)
// rounds each rank's half batch to 8 bits of mantissa on its own.
const char* kSpec = R"(name: ddp
seed: 5
data: {type: fashion_mnist, limit: 640, val_fraction: 0.25}
augment: {train: [{type: random_affine, width_shift: 0.1}, normalize], eval: [normalize]}
model:
  backbone: {type: seed_cnn, cut: conv2, freeze: false}
  head: [global_avg_pool, {type: dense, units: 32, activation: relu}, dense]
train: {epochs: 3, batch_size: 32, workers: 1, precision: fp32, optimizer: {type: sgd, lr: 0.05, momentum: 0.9}}
)";

/// The issue's bar: every stored metric within a relative 1e-4, over at least 2 epochs.
void check_close(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  check_metrics_close(a, b, 1e-4, 2 * 4 + 2);
}

}  // namespace

TEST_CASE("a rank's shard: disjoint contiguous parts of every global batch", "[dist]") {
  std::vector<std::size_t> order(10);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = 100 + i;
  // Training: batches of 4 over 2 ranks, the ragged 2-example tail split evenly.
  CHECK(shard_order(order, 4, 0, 2, true) == std::vector<std::size_t>{100, 101, 104, 105, 108});
  CHECK(shard_order(order, 4, 1, 2, true) == std::vector<std::size_t>{102, 103, 106, 107, 109});
  // 3 ranks, batch 6: 10 = 6 + 4; the tail's 4 give 1 each, one example dropped.
  CHECK(shard_order(order, 6, 2, 3, true) == std::vector<std::size_t>{104, 105, 108});
  // Evaluation keeps every example: parts of ceil(4 / 3) = 2, the last rank's is empty.
  CHECK(shard_order(order, 6, 1, 3, false) == std::vector<std::size_t>{102, 103, 108, 109});
  CHECK(shard_order(order, 6, 2, 3, false) == std::vector<std::size_t>{104, 105});
}

TEST_CASE("with --nproc 2 a run gives --nproc 1's metrics - workers started by any launcher join one run",
          "[dist][slow]") {
  TempDir d;
  const std::string spec = write_file(d.file("ddp.yaml"), kSpec);
  auto one = run_command(trex_binary() + " run " + spec + " -q --no-report --store " + d.file("one.db"));
  INFO(one.output);
  REQUIRE(one.exit_code == 0);
  const std::string one_id = Store(d.file("one.db"), true).runs().back().id;

  auto two = run_command(trex_binary() + " run " + spec + " -q --no-report --nproc 2 --store " + d.file("two.db"));
  INFO(two.output);
  REQUIRE(two.exit_code == 0);
  const auto runs = Store(d.file("two.db"), true).runs();
  REQUIRE(runs.size() == 1);  // one run, written by rank 0 alone
  CHECK(runs[0].status == "completed");
  CHECK(stored_param(Store(d.file("two.db"), true), runs[0].id, "dist.world_size") == "2");
  CHECK(stored_param(Store(d.file("one.db"), true), one_id, "dist.world_size") == "1");
  check_close(stored_metrics(d.file("one.db"), one_id), stored_metrics(d.file("two.db"), runs[0].id));

  // torchrun's variables with a FileStore rendezvous, each worker started by hand.
  const std::string worker = trex_binary() + " run " + spec + " -q --no-report --store " + d.file("file.db");
  auto by_hand = run_command("export WORLD_SIZE=2 TREX_DIST_FILE=" + d.file("rendezvous") + "; (RANK=0 " + worker +
                             " & RANK=1 " + worker + " & wait)");
  INFO(by_hand.output);
  const auto file_runs = Store(d.file("file.db"), true).runs();
  REQUIRE(file_runs.size() == 1);
  CHECK(file_runs[0].status == "completed");
  check_close(stored_metrics(d.file("one.db"), one_id), stored_metrics(d.file("file.db"), file_runs[0].id));
}

TEST_CASE("a batch that does not divide by the workers, and a rendezvous nobody joins, fail with the fix", "[dist]") {
  TempDir d;
  const std::string spec = write_file(d.file("ddp.yaml"), kSpec);
  auto r = run_command(trex_binary() + " run " + spec + " --nproc 3 --store " + d.file("s.db"));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("train.batch_size 32 does not divide by the 3 workers") && Contains("multiple of 3"));
  r = run_command("RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 TREX_DIST_TIMEOUT_S=3 " + trex_binary() +
                  " run " + spec + " --store " + d.file("s.db"));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("data-parallel rendezvous (rank 1 of 2 at 127.0.0.1:1) failed"));
  r = run_command("RANK=x WORLD_SIZE=2 " + trex_binary() + " run " + spec + " --store " + d.file("s.db"));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("RANK='x' is not a number"));
}

TEST_CASE("a worker that dies fails the run promptly with the reason - the run resumes with --nproc 2",
          "[dist][slow]") {
  TempDir d;
  const std::string spec = write_file(d.file("ddp.yaml"), kSpec);
  const std::string store = d.file("s.db"), marker = d.file("marker"), log = d.file("log");
  const pid_t launcher = spawn(trex_binary() + " run " + spec + " --no-report --nproc 2 --store " + store,
                               {{"TREX_FAULT_POINT", "train_epoch"},
                                {"TREX_FAULT_EPOCH", "2"},
                                {"TREX_FAULT_RANK", "1"},
                                {"TREX_FAULT_MARKER", marker}},
                               log);
  for (int i = 0; i < 1200 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(fs::exists(marker));
  std::string name;
  int epoch = 0;
  pid_t worker = 0;
  std::istringstream(read_file(marker)) >> name >> epoch >> worker;
  REQUIRE(worker > 0);
  const auto killed = std::chrono::steady_clock::now();
  kill(worker, SIGKILL);
  int status = 0;
  for (int i = 0; i < 1200 && waitpid(launcher, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  INFO(read_file(log));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(seconds < 30);  // the collective fails when the peer's socket closes, not after a long timeout
  CHECK_THAT(read_file(log), Contains("worker rank 1") && Contains("killed by signal 9"));
  const RunRecord run = Store(store, true).runs().back();
  CHECK(run.status == "failed");
  CHECK_THAT(run.error, Contains("another worker stopped"));

  auto resumed = run_command(trex_binary() + " run --resume " + run.id + " -q --no-report --nproc 2 --store " + store);
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(Store(store, true).run(run.id).status == "completed");
  auto one = run_command(trex_binary() + " run " + spec + " -q --no-report --store " + d.file("one.db"));
  REQUIRE(one.exit_code == 0);
  check_close(stored_metrics(d.file("one.db"), Store(d.file("one.db"), true).runs().back().id),
              stored_metrics(store, run.id));
}

TEST_CASE("train.sync_bn: --nproc 2 with BatchNorm gives --nproc 1's metrics - per-replica BatchNorm does not",
          "[dist][slow]") {
  // The whole seed CNN, BatchNorm included (dropout off): only synchronised
  // statistics make two half batches normalise like one whole batch. A gentle
  // lr: with BatchNorm, float rounding (statistics summed in another order)
  // grows over steps at high rates (lr 0.05, momentum 0.9: 1e-2 after one
  // epoch) and flips single predictions, while the first steps agree to 1e-7.
  // NCHW: torch's channels-last BatchNorm kernel sums in another order than
  // its NCHW one and the synchronised layer, which grows to 1e-3 here as well.
  TempDir d;
  const std::string spec = write_file(d.file("bn.yaml"), R"(name: ddp_bn
seed: 6
data: {type: fashion_mnist, limit: 640, val_fraction: 0.25}
augment: {train: [normalize], eval: [normalize]}
model: {type: seed_cnn, dropout1: 0.0, dropout2: 0.0}
train: {epochs: 2, batch_size: 32, workers: 1, threads: 1, precision: fp32, channels_last: false,
        optimizer: {type: sgd, lr: 0.005}}
)");
  std::map<std::string, std::map<std::string, double>> metrics;
  for (const char* how : {"one", "sync", "replica"}) {
    const std::string store = d.file(std::string(how) + ".db");
    const std::string args = std::string(how) == "one" ? ""
                                                       : std::string(" --nproc 2 --set train.sync_bn=") +
                                                             (std::string(how) == "sync" ? "true" : "false");
    auto r = run_command(trex_binary() + " run " + spec + " -q --no-report --store " + store + args);
    INFO(how << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    metrics[how] = stored_metrics(store, Store(store, true).runs().back().id);
  }
  check_close(metrics["one"], metrics["sync"]);
  double largest = 0;
  for (const auto& [key, v] : metrics["one"])
    largest = std::max(largest, std::abs(v - metrics["replica"].at(key)) / std::max(1.0, std::abs(v)));
  CHECK(largest > 1e-3);  // the test can tell: per-replica statistics train another model
}

namespace {
/// One rank: every collective is the identity, so a synchronised BatchNorm must be torch's.
struct Alone : Collective {
  int rank() const override { return 0; }
  int world() const override { return 1; }
  void allreduce_sum(at::Tensor&) override {}
  std::function<void()> allreduce_sum_async(at::Tensor&) override {
    return [] {};
  }
  void broadcast(at::Tensor&, int) override {}
  at::Tensor allgather(const at::Tensor& t) override { return t.unsqueeze(0); }
  void barrier() override {}
};
}  // namespace

TEST_CASE("synchronised BatchNorm on one rank is torch's BatchNorm: outputs, gradients, running statistics", "[dist]") {
  torch::manual_seed(3);
  for (int dims : {2, 4}) {
    INFO(dims << "-D input");
    const at::Tensor x = dims == 4 ? torch::randn({6, 3, 5, 4}) * 2 + 1 : torch::randn({8, 3}) * 2 + 1;
    const at::Tensor dy = torch::randn_like(x);
    torch::nn::Sequential plain, synced;
    if (dims == 4)
      plain->push_back(trex::BatchNorm2d(3)), synced->push_back(trex::BatchNorm2d(3));
    else
      plain->push_back(trex::BatchNorm1d(3)), synced->push_back(trex::BatchNorm1d(3));
    {
      torch::NoGradGuard no_grad;
      for (auto* s : {&plain, &synced}) (*s)->parameters()[0].uniform_(0.5, 1.5), (*s)->parameters()[1].uniform_(-1, 1);
      synced->parameters()[0].copy_(plain->parameters()[0]);
      synced->parameters()[1].copy_(plain->parameters()[1]);
    }
    Alone alone;
    REQUIRE(enable_sync_batch_norm(*synced, alone) == 1);
    at::Tensor xa = x.clone().requires_grad_(true), xb = x.clone().requires_grad_(true);
    for (int step = 0; step < 3; ++step) {  // running statistics over several steps
      const at::Tensor ya = plain->forward(xa), yb = synced->forward(xb);
      CHECK(torch::allclose(ya, yb, 1e-5, 1e-5));
      if (step == 0) {
        (ya * dy).sum().backward();
        (yb * dy).sum().backward();
        CHECK(torch::allclose(xa.grad(), xb.grad(), 1e-4, 1e-5));
        CHECK(torch::allclose(plain->parameters()[0].grad(), synced->parameters()[0].grad(), 1e-4, 1e-5));
        CHECK(torch::allclose(plain->parameters()[1].grad(), synced->parameters()[1].grad(), 1e-4, 1e-5));
      }
    }
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(torch::allclose(plain->buffers()[i].to(at::kDouble), synced->buffers()[i].to(at::kDouble), 1e-5, 1e-6));
  }
}
