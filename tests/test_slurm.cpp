// Sweeps and data-parallel runs on a real Slurm: tests/slurm/cluster.sh starts
// a single-node cluster (munged, slurmctld, slurmd on 127.0.0.1), submits a
// 4-share sweep with tools/slurm/submit_sweep.sh and a 2-task srun run, and
// stops its daemons; here we check what landed in the stores.
#include <cstring>
#include <set>

#include "helpers.h"
#include "trex/store/store.h"
#include "trex/sweep/sweep_store.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

#include "run_records.h"

using namespace trex;
using namespace trex::test;

namespace {

const char* kSweep = R"(name: slurm_sweep
seed: 1
data: {type: fashion_mnist, limit: 200, val_fraction: 0.2}
augment: {train: [normalize], eval: [normalize]}
model: {type: seed_cnn}
train: {epochs: 1, batch_size: 32, workers: 1, threads: 1}
sweep:
  method: grid
  parameters:
    train.optimizer.lr: {choice: [0.001, 0.003, 0.01, 0.03]}
)";

const char* kDdp = R"(name: slurm_ddp
seed: 2
data: {type: fashion_mnist, limit: 256, val_fraction: 0.25}
augment: {train: [normalize], eval: [normalize]}
model:
  backbone: {type: seed_cnn, cut: conv2, freeze: false}
  head: [global_avg_pool, dense]
train: {epochs: 2, batch_size: 32, workers: 1}
)";

}  // namespace

TEST_CASE("a sweep through sbatch --array and a 2-task srun run on a single-node Slurm", "[slurm][slow]") {
  REQUIRE(fs::exists("/usr/sbin/slurmctld"));  // munge and slurm-wlm: tools/setup.sh installs them
  REQUIRE(getuid() == 0);                      // the test starts munged as the munge user
  TempDir d;
  const std::string sweep = write_file(d.file("sweep.yaml"), kSweep), ddp = write_file(d.file("ddp.yaml"), kDdp);
  fs::create_directories(d.path() / "w");
  const std::string work = d.file("w");
  auto r = run_command("timeout 900 " + source_dir() + "/tests/slurm/cluster.sh " + trex_binary() + " " + work + " " +
                       sweep + " " + ddp);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // The trap stopped every daemon the script started.
  std::size_t left = 0;
  for (const auto& proc : fs::directory_iterator("/proc")) {
    const std::string cmdline = read_file((proc.path() / "cmdline").string());
    const std::string exe = cmdline.substr(0, cmdline.find('\0'));
    for (const char* daemon : {"slurmctld", "slurmd", "munged"})
      left += exe.size() >= std::strlen(daemon) &&
              exe.compare(exe.size() - std::strlen(daemon), std::string::npos, daemon) == 0 &&
              cmdline.find(work) != std::string::npos;
  }
  CHECK(left == 0);

  Store merged(work + "/merged.db", true);
  const auto sweeps = list_sweeps(merged);
  REQUIRE(sweeps.size() == 1);
  const auto trials = list_trials(merged, sweeps[0].id);
  CHECK(trials.size() == 4);
  std::set<std::string> lrs;
  for (const auto& t : trials) {
    CHECK(t.state == "completed");
    for (const auto& p : merged.params(t.run_id))
      if (p.key == "train.optimizer.lr") lrs.insert(p.value);
  }
  CHECK(lrs.size() == 4);

  // srun's SLURM_PROCID / SLURM_NTASKS made one 2-rank run, equal to a local one.
  Store ddp_store(work + "/ddp.db", true);
  const auto runs = ddp_store.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "completed");
  CHECK(stored_param(ddp_store, runs[0].id, "dist.world_size") == "2");
  auto local = run_command(trex_binary() + " run " + ddp + " -q --no-report --store " + d.file("local.db"));
  REQUIRE(local.exit_code == 0);
  check_metrics_close(stored_metrics(d.file("local.db"), Store(d.file("local.db"), true).runs().back().id),
                      stored_metrics(ddp_store, runs[0].id), 1e-4, 2 * 4 + 2);
}
