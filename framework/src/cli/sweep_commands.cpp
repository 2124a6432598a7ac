// trex sweep SPEC [--resume [ID]] [--shard I/N], trex sweep status ID, trex sweeps, trex merge
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_table.h"
#include "common.h"
#include "table.h"
#include "trex/store/merge.h"
#include "trex/sweep/sweep_runner.h"
#include "trex/sweep/sweep_store.h"

namespace trex::cli {
namespace {

struct SweepArgs {
  CommonOptions common;
  std::string spec;
  std::vector<std::string> sets;
  std::string resume_id;
  bool quiet = false;
  std::string shard = "0/1";
};

std::string trial_executable() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find this executable's folder (/proc/self/exe) to start trial processes");
  return (self.parent_path() / "trex-torch").string();
}

int do_sweep(const SweepArgs& a, bool resume) {
  if (a.spec.empty()) return fail("trex sweep needs a SPEC with a `sweep:` block (or `trex sweep status ID`)");
  auto registry = make_registry(a.common);
  Store store(store_path(a.common));
  SweepRunOptions o;
  o.spec_path = a.spec;
  o.sets = a.sets;
  o.resume = resume;
  o.resume_id = a.resume_id;
  std::tie(o.shard_index, o.shard_count) = parse_shard(a.shard);
  o.trial_exe = trial_executable();
  o.plugin_paths = a.common.plugin_paths;
  o.quiet = a.quiet;
  catch_stop_signals();
  o.should_stop = [] { return stop_requested(); };
  const SweepOutcome out = run_sweep(o, *registry, store);
  std::cout << fmt::format("sweep {} {}: {} completed, {} pruned, {} failed (trex sweep status {}; trex best {})\n",
                           out.sweep_id, out.state, out.completed, out.pruned, out.failed, out.sweep_id, out.sweep_id);
  return out.state == "completed" ? 0 : 130;
}

int do_status(const CommonOptions& common, const std::string& id, const std::string& format) {
  Store store(store_path(common), true);
  auto sweep = find_sweep(store, id);
  if (!sweep) return fail("no sweep '" + id + "' in " + store.path() + "; see `trex sweeps`");
  const SweepConfig config = stored_sweep_config(*sweep);
  std::cout << fmt::format("sweep {}  {}  {}  method {}  objective {} {} ({})\n", sweep->id, sweep->name, sweep->state,
                           sweep->method, config.objective.maximize ? "max" : "min", config.objective.metric,
                           config.objective.summary);
  Table t{{"trial", "config", "seed", "state", "objective", "run", "parameters", "reason"}, {}};
  const TrialRecord* best = nullptr;
  const auto trials = list_trials(store, sweep->id);
  for (const auto& tr : trials) {
    const std::string params = tr.label();
    t.rows.push_back({std::to_string(tr.number), std::to_string(tr.config), tr.seed ? std::to_string(*tr.seed) : "",
                      tr.state, tr.objective ? fmt::format("{:.4f}", *tr.objective) : "", tr.run_id, params,
                      tr.reason});
    if (tr.state == "completed" && tr.objective &&
        (!best || (config.objective.maximize ? *tr.objective > *best->objective : *tr.objective < *best->objective)))
      best = &tr;
  }
  std::cout << t.render(format);
  if (best)
    std::cout << fmt::format("best so far: trial {} ({}), {} {:.4f}\n", best->number, best->run_id,
                             config.objective.metric, *best->objective);
  return 0;
}

int do_sweeps(const CommonOptions& common, const std::string& format) {
  Store store(store_path(common), true);
  Table t{{"id", "name", "method", "state", "created", "trials", "completed", "pruned", "failed", "shard"}, {}};
  for (const auto& s : list_sweeps(store)) {
    std::int64_t n = 0, done = 0, pruned = 0, failed = 0;
    for (const auto& tr : list_trials(store, s.id)) {
      ++n;
      done += tr.state == "completed";
      pruned += tr.state == "pruned";
      failed += tr.state == "failed";
    }
    t.rows.push_back({s.id, s.name, s.method, s.state, format_time(s.created), std::to_string(n), std::to_string(done),
                      std::to_string(pruned), std::to_string(failed),
                      fmt::format("{}/{}", s.shard_index, s.shard_count)});
  }
  std::cout << t.render(format);
  return 0;
}

int do_merge(const std::vector<std::string>& sources, const std::string& into) {
  Store store(into);
  for (const auto& src : sources) {
    const MergeReport r = merge_store(store, src);
    std::cout << fmt::format("{}: {} runs added, {} already present; {} sweeps added, {} joined; {} trials added\n",
                             src, r.runs_added, r.runs_present, r.sweeps_added, r.sweeps_joined, r.trials_added);
  }
  return 0;
}

}  // namespace

void add_sweep_commands(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<SweepArgs>();
  auto* sweep = app.add_subcommand("sweep", help_of("sweep"));
  sweep->add_option("spec", a->spec, "experiment YAML with a sweep: block");
  sweep->add_option("--set", a->sets, "override a dotted key of the base spec (repeatable)");
  auto* resume = sweep
                     ->add_option("--resume", a->resume_id,
                                  "continue a killed sweep: its id, or none for the latest sweep of SPEC")
                     ->expected(0, 1);
  sweep->add_option("--shard", a->shard, "I/N: run share I of N of a grid or random sweep");
  sweep->add_flag("-q,--quiet", a->quiet, "no per-trial lines");
  add_common(*sweep, a->common);
  auto status_id = std::make_shared<std::string>();
  auto status_format = std::make_shared<std::string>("table");
  auto status_common = std::make_shared<CommonOptions>();
  auto* status =
      sweep->add_subcommand("status", "a sweep's trials: state, parameters, objective, prune reason; the best so far");
  status->add_option("id", *status_id, "sweep id")->required();
  status->add_option("--format", *status_format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*status, *status_common, true, false);
  status->callback([=, &exit_code] { exit_code = do_status(*status_common, *status_id, *status_format); });
  sweep->callback([a, resume, status, &exit_code] {
    if (status->parsed()) return;
    exit_code = do_sweep(*a, resume->count() > 0);
  });

  auto lc = std::make_shared<CommonOptions>();
  auto lformat = std::make_shared<std::string>("table");
  auto* sweeps = app.add_subcommand("sweeps", help_of("sweeps"));
  sweeps->add_option("--format", *lformat, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*sweeps, *lc, true, false);
  sweeps->callback([lc, lformat, &exit_code] { exit_code = do_sweeps(*lc, *lformat); });

  auto sources = std::make_shared<std::vector<std::string>>();
  auto into = std::make_shared<std::string>();
  auto* merge = app.add_subcommand("merge", help_of("merge"));
  merge->add_option("stores", *sources, "stores to read")->required()->check(CLI::ExistingFile);
  merge->add_option("--into", *into, "the store to write (created if missing)")->required();
  merge->callback([sources, into, &exit_code] { exit_code = do_merge(*sources, *into); });
}

}  // namespace trex::cli
