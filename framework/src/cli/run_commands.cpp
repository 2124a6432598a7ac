// trex run, trex validate

#include <iostream>

#include <spdlog/spdlog.h>

#include "command_table.h"
#include "common.h"
#include "launch.h"
#include "trex/common/system.h"
#include "trex/config/spec.h"
#include "trex/store/file_checksums.h"
#include "trex/sweep/sweep_runner.h"
#include "trex/sweep/sweep_store.h"
#include "trex/train/provenance.h"
#include "trex/train/trainer.h"
#include "trex/report/run_report.h"

namespace trex::cli {
namespace {

struct RunArgs {
  CommonOptions common;
  std::string spec;
  std::vector<std::string> sets;
  std::string resume;
  bool restart = false;
  std::string trial;  ///< SWEEP_ID:NUMBER, set by `trex sweep` for its trial processes
  bool quiet = false;
  bool no_report = false;
  bool verbose = false;
  int nproc = 1;
};

/// A sweep's trial (--trial SWEEP_ID:NUMBER): the run is linked to it and asks its pruner after every epoch.
void join_sweep(const std::string& trial, Store& store, RunOptions& options) {
  const auto colon = trial.rfind(':');
  std::size_t used = 0;
  try {
    options.trial = std::stoll(trial.substr(colon == std::string::npos ? trial.size() : colon + 1), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (colon == std::string::npos || used == 0)
    throw std::runtime_error("--trial takes SWEEP_ID:NUMBER, not '" + trial + "'");
  options.sweep_id = trial.substr(0, colon);
  const auto sweep = find_sweep(store, options.sweep_id);
  if (!sweep) throw std::runtime_error("--trial: no sweep '" + options.sweep_id + "' in " + store.path());
  // Read once: the trial asks the pruner after every epoch.
  options.should_prune = [&store, id = sweep->id, config = stored_sweep_config(*sweep)](const std::string& run_id,
                                                                                        std::int64_t epoch) {
    return trial_prune_reason(store, id, config, run_id, epoch);
  };
}

// A report is a view of what is stored: failing to draw it does not fail the run.
void write_report(Store& store, const Registry& registry, const RunResult& run, bool quiet) {
  const std::string& run_id = run.run_id;
  try {
    const auto r = report::write_run_report(store, registry, run_id, "", run.dataset);
    if (!quiet) std::cout << "report: " << r.html << "\n";
  } catch (const std::exception& e) {
    spdlog::warn("run {} completed, but its report failed: {} (retry with `trex report {}`)", run_id, e.what(), run_id);
  }
}

int do_run(const RunArgs& a, Phases& phases) {
  auto registry = make_registry(a.common);
  phases.mark("plugins");
  Store store(store_path(a.common));
  StoreChecksums checksums(store);  // weights files are hashed once per version, not once per run
  UseChecksumMemo use_checksums(&checksums);
  phases.mark("store");
  ResolvedSpec spec;
  if (a.restart && a.resume.empty()) return fail("--restart starts a stored run again: use it with --resume RUN_ID");
  if (!a.resume.empty()) {
    if (!a.spec.empty() || !a.sets.empty())
      return fail("--resume continues a stored run with its stored spec; drop SPEC and --set");
    RunRecord r = store.run(a.resume);
    spec = load_spec_text(r.spec_yaml, "run " + r.id + " (stored spec)", *registry);
  } else {
    if (a.spec.empty()) return fail("trex run needs a SPEC file (or --resume RUN_ID)");
    spec = load_spec(a.spec, a.sets, *registry);
  }
  if (a.nproc > 1 && !std::getenv("WORLD_SIZE")) {
    // This process launches the workers (each runs this same command as one rank).
    std::vector<std::string> args = own_arguments();
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--nproc" && i + 1 < args.size())
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      else if (args[i].rfind("--nproc=", 0) == 0)
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
      else
        continue;
      break;
    }
    return launch_workers(a.nproc, args, store.path());
  }
  if (active_blas() == "reference")
    spdlog::warn(
        "LibTorch uses the reference BLAS (about 20x slower); install libopenblas0-pthread (tools/setup.sh does)");
  catch_stop_signals();
  RunOptions options;
  options.resume_id = a.resume;
  options.restart = a.restart;
  options.quiet = a.quiet;
  options.phases = &phases;
  options.should_stop = [] { return stop_requested(); };
  options.dist = dist_env_from_environment();
  if (const char* t = std::getenv("TREX_DIST_TIMEOUT_S")) options.dist_timeout = std::chrono::seconds(std::atoi(t));
  if (!a.trial.empty()) join_sweep(a.trial, store, options);
  phases.mark("spec");
  RunResult result = run_experiment(spec, *registry, store, options);
  if (options.dist.rank != 0)
    return result.status == "completed" || result.status == "pruned" ? 0 : 1;  // rank 0 speaks for the run
  if (result.status == "completed" && !a.no_report && a.trial.empty()) write_report(store, *registry, result, a.quiet);
  phases.mark("report");
  if (result.status == "completed") return 0;
  if (result.status == "pruned") {
    if (!a.quiet) std::cout << "run " << result.run_id << " pruned: " << result.error << "\n";
    return 0;
  }
  std::cerr << "trex: run " << result.run_id << " " << result.status << ": " << result.error << "\n";
  return result.status == "interrupted" ? 130 : 1;
}

}  // namespace

void add_run_commands(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  auto* run = app.add_subcommand("run", help_of("run"));
  run->add_option("spec", args->spec, "experiment YAML");
  run->add_option("--set", args->sets, "override a dotted key: --set train.optimizer.lr=0.01 (repeatable)");
  run->add_option("--resume", args->resume, "continue RUN_ID from its last checkpoint");
  run->add_flag("--restart", args->restart,
                "with --resume: start the run again from epoch 1, dropping its stored epochs "
                "(when its last checkpoint is gone)");
  run->add_flag("-q,--quiet", args->quiet, "no progress output");
  run->add_option("--nproc", args->nproc,
                  "data-parallel workers on this machine (c10d Gloo); under srun or torchrun, "
                  "RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS join workers instead")
      ->check(CLI::Range(1, 256));
  run->add_flag("-v,--verbose", args->verbose, "print where the run's wall time went, phase by phase, at the end");
  run->add_flag("--no-report", args->no_report, "do not write the run's report (trex report RUN writes it later)");
  run->add_option("--trial", args->trial, "SWEEP_ID:NUMBER (set by trex sweep)")->group("");
  add_common(*run, args->common);
  run->callback([args, &exit_code] {
    Phases phases;
    phases.add("start", seconds_since_process_start());  // loading LibTorch and the rest before main
    exit_code = do_run(*args, phases);
    phases.mark("close");  // the store, the plugins, the run's tensors
    if (args->verbose) std::cout << phases.line() << "\n";
  });

  auto vargs = std::make_shared<RunArgs>();
  auto* validate = app.add_subcommand("validate", help_of("validate"));
  validate->add_option("spec", vargs->spec, "experiment YAML")->required();
  validate->add_option("--set", vargs->sets, "override a dotted key (repeatable)");
  add_common(*validate, vargs->common, false, true);
  validate->callback([vargs, &exit_code] {
    auto registry = make_registry(vargs->common);
    ResolvedSpec spec = load_spec(vargs->spec, vargs->sets, *registry);
    // A sweep's parameters are keys of the spec too: each must resolve at both ends of its range.
    if (!spec.sweep.is_null())
      check_sweep_ranges(parse_sweep(spec.sweep, vargs->spec), vargs->spec, vargs->sets, *registry);
    std::cout << spec.yaml();
    exit_code = 0;
  });
}

}  // namespace trex::cli
