// A sweep that is told to stop sends each trial SIGTERM, and SIGKILL to one
// that is still there after the grace period (stuck in I/O, ignoring signals).
#include <signal.h>

#include <atomic>
#include <chrono>

#include "../helpers.h"
#include "trex/store/store.h"
#include "trex/sweep/sweep_runner.h"
#include "trex/sweep/sweep_store.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

TEST_CASE("a trial that ignores SIGTERM is killed after the grace period", "[hostile][sweep]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             "name: wedged\ndata: {type: fashion_mnist, limit: 100}\nmodel: {type: seed_cnn}\ntrain: {epochs: 1}\n"
             "sweep:\n  method: grid\n  parameters:\n    train.optimizer.lr: {choice: [0.1, 0.01]}\n");
  // A trial that ignores SIGTERM and would sleep for minutes.
  const std::string wedged = write_file(d.file("wedged.sh"), "#!/bin/sh\ntrap '' TERM\necho started > " +
                                                                 d.file("started") + "\nsleep 300 &\nwait\nwait\n");
  fs::permissions(wedged, fs::perms::owner_all);
  Store store(d.file("trex.db"));
  SweepRunOptions o;
  o.spec_path = d.file("s.yaml");
  o.trial_exe = wedged;
  o.quiet = true;
  o.stop_grace_seconds = 1;
  o.should_stop = [&] { return fs::exists(d.file("started")); };
  const auto start = std::chrono::steady_clock::now();
  const SweepOutcome out = run_sweep(o, built_plugins(), store);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(out.state == "interrupted");
  CHECK(seconds < 20);
  const auto trials = list_trials(store, out.sweep_id);
  REQUIRE(trials.size() == 1);
  CHECK_THAT(trials[0].reason, Contains("signal 9"));
}
