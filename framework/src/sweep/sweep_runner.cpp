#include "trex/sweep/sweep_runner.h"

#include "trex/common/child_process.h"
#include "trex/common/folder_lock.h"

#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trex/store/cell_json.h"
#include "trex/sweep/sampler.h"
#include "trex/config/spec.h"
#include "trex/sweep/sweep_store.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

bool pid_alive_here(const SweepRecord& s) {
  return s.host == host_name() && s.pid > 0 && s.pid != getpid() && process_alive(s.pid);
}

std::string last_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

std::vector<std::string> overrides_of(const SweepConfig& config, const Point& point) {
  std::vector<std::string> out;
  for (std::size_t d = 0; d < config.params.size(); ++d)
    out.push_back(config.params[d].key + "=" + config.params[d].to_text(point[d]));
  return out;
}

}  // namespace

void check_sweep_ranges(const SweepConfig& config, const std::string& spec_path, const std::vector<std::string>& sets,
                        const Registry& registry) {
  for (bool high : {false, true}) {
    Point p;
    for (const auto& s : config.params) p.push_back(high ? s.internal_high() : s.internal_low());
    std::vector<std::string> all = sets;
    for (auto& o : overrides_of(config, p)) all.push_back(std::move(o));
    load_spec(spec_path, all, registry);
  }
}

namespace {

class Sweep {
 public:
  Sweep(const SweepRunOptions& o, const Registry& registry, Store& store) : o_(o), registry_(registry), store_(store) {}

  SweepOutcome run() {
    open();
    reconcile_unfinished();
    schedule();
    SweepOutcome out{sweep_.id, stopped_ ? "interrupted" : "completed", 0, 0, 0};
    for (const auto& t : list_trials(store_, sweep_.id)) {
      out.completed += t.state == "completed";
      out.failed += t.state == "failed";
      out.pruned += t.state == "pruned";
    }
    set_sweep_state(store_, sweep_.id, out.state);
    return out;
  }

 private:
  void open() {
    ResolvedSpec base = load_spec(o_.spec_path, o_.sets, registry_);
    if (base.sweep.is_null())
      throw std::runtime_error(o_.spec_path + " has no `sweep:` block; add one (see experiments/sweeps/README.md)");
    if (o_.resume)
      resume_sweep(text_hash(base.yaml()));
    else
      create_new_sweep(base);
    config_ = stored_sweep_config(sweep_);
    dir_ = store_.sweep_dir(sweep_.id);
    lock_ = std::make_unique<FolderLock>(dir_.string(), "sweep " + sweep_.id);
    spec_file_ = (dir_ / "spec.yaml").string();
    if (!fs::exists(spec_file_)) {
      std::ofstream out(spec_file_);
      out << sweep_.spec_yaml;
    }
    check_sweep_ranges(config_, spec_file_, {}, registry_);  // every key, both ends, before any trial starts
    ResolvedSpec resolved = load_spec(spec_file_, {}, registry_);
    if (resolved.train.threads <= 0)
      threads_ =
          std::max<std::int64_t>(1, static_cast<std::int64_t>(std::thread::hardware_concurrency()) / config_.parallel);
    if (!o_.quiet)
      std::cout << fmt::format("sweep {}  {}  method {}, {} configurations x {} seeds, {} at a time{}\n", sweep_.id,
                               sweep_.name, config_.method, config_.configurations(), config_.repeats(),
                               config_.parallel,
                               o_.shard_count > 1 ? fmt::format(", shard {}/{}", o_.shard_index, o_.shard_count) : "");
  }

  /// The sweep --resume names (or the latest of this spec), claimed for this process.
  void resume_sweep(const std::string& key) {
    auto found = o_.resume_id.empty() ? latest_sweep(store_, key, o_.spec_path) : find_sweep(store_, o_.resume_id);
    if (!found)
      throw std::runtime_error(o_.resume_id.empty()
                                   ? "no sweep of " + o_.spec_path + " in " + store_.path() +
                                         " to resume; see `trex sweeps`"
                                   : "no sweep '" + o_.resume_id + "' in " + store_.path() + "; see `trex sweeps`");
    sweep_ = *found;
    if (sweep_.state == "running" && pid_alive_here(sweep_))
      throw std::runtime_error(fmt::format("sweep {} is still running (pid {}); stop it first", sweep_.id, sweep_.pid));
    if (sweep_.shard_count != o_.shard_count || sweep_.shard_index != o_.shard_index)
      throw std::runtime_error(fmt::format("sweep {} is shard {}/{}; resume it with --shard {}/{}", sweep_.id,
                                           sweep_.shard_index, sweep_.shard_count, sweep_.shard_index,
                                           sweep_.shard_count));
    claim_sweep(store_, sweep_.id);
  }

  void create_new_sweep(const ResolvedSpec& base) {
    sweep_.id = "sweep-" + Store::new_run_id();
    sweep_.spec_yaml = base.yaml();
    sweep_.key = text_hash(sweep_.spec_yaml);
    sweep_.name = base.name;
    sweep_.spec_path = o_.spec_path;
    sweep_.config = to_yaml(base.sweep);
    sweep_.created = sweep_.updated = now_seconds();
    sweep_.host = host_name();
    sweep_.pid = getpid();
    sweep_.shard_index = o_.shard_index;
    sweep_.shard_count = o_.shard_count;
    config_ = parse_sweep(base.sweep, o_.spec_path);
    sweep_.method = config_.method;
    if (o_.shard_count > 1 && config_.method == "tpe")
      throw std::runtime_error(
          "--shard splits grid and random sweeps; TPE learns from every trial, so run it unsharded");
    create_sweep(store_, sweep_);
  }

  bool ours(std::int64_t config) const { return config % o_.shard_count == o_.shard_index; }

  // Trials a killed sweep left running or pending: their runs tell what happened.
  void reconcile_unfinished() {
    for (const auto& t : list_trials(store_, sweep_.id)) {
      if (t.state == "running" || t.state == "pending") {
        if (t.run_id.empty())
          finish_trial(store_, sweep_.id, t.number, "interrupted", std::nullopt, "the sweep stopped first");
        else
          settle(t.number, t.run_id, "");
      }
    }
    for (const auto& t : list_trials(store_, sweep_.id)) {
      next_config_ = std::max(next_config_, t.config + 1);
      if (o_.resume && (t.state == "interrupted" || t.state == "failed" || t.state == "pending"))
        queue_.push_back(t.number);
    }
  }

  std::vector<Observation> history() const {
    std::map<std::int64_t, std::pair<Point, std::vector<double>>> by_config;
    for (const auto& t : list_trials(store_, sweep_.id)) {
      // Pruned trials count with the value they reached: without them TPE
      // would keep proposing the region the pruner just cut short.
      if ((t.state != "completed" && t.state != "pruned") || !t.objective) continue;
      auto& entry = by_config[t.config];
      const auto point = nlohmann::json::parse(t.point, nullptr, false);
      if (!point.is_array() || point.size() != config_.params.size() ||
          !std::all_of(point.begin(), point.end(), [](const nlohmann::json& v) { return v.is_number(); }))
        throw std::runtime_error("sweep " + sweep_.id + " trial " + std::to_string(t.number) + ": its stored point '" +
                                 t.point.substr(0, 80) + "' is not " + std::to_string(config_.params.size()) +
                                 " numbers; the store is damaged");
      entry.first = point.get<Point>();
      entry.second.push_back(*t.objective);
    }
    std::vector<Observation> out;
    for (const auto& [config, e] : by_config) {
      double mean = 0;
      for (double v : e.second) mean += v;
      mean /= static_cast<double>(e.second.size());
      out.push_back({e.first, config_.objective.maximize ? -mean : mean});
    }
    return out;
  }

  // Draws the next configuration of this shard and queues its trials (one per seed).
  bool draw() {
    while (next_config_ < config_.configurations() && !ours(next_config_)) ++next_config_;
    if (next_config_ >= config_.configurations()) return false;
    const std::int64_t c = next_config_++;
    const Point point = sample(config_, c, history());
    nlohmann::json params = nlohmann::json::object();
    for (std::size_t d = 0; d < config_.params.size(); ++d)
      params[config_.params[d].key] = config_.params[d].to_text(point[d]);
    store_.db().transaction([&] {
      for (std::int64_t j = 0; j < config_.repeats(); ++j) {
        TrialRecord t;
        t.sweep_id = sweep_.id;
        t.config = c;
        t.number = c * config_.repeats() + j;
        if (!config_.seeds.empty()) t.seed = config_.seeds[static_cast<std::size_t>(j)];
        t.params = json_text(params);
        t.point = json_text(nlohmann::json(point));
        add_trial(store_, t);
        queue_.push_back(t.number);
      }
    });
    return true;
  }

  void launch(std::int64_t number) {
    const TrialRecord t = *find_trial(store_, sweep_.id, number);
    std::vector<std::string> args{"trex", "run", spec_file_};
    for (const auto& [key, value] : t.values()) args.insert(args.end(), {"--set", key + "=" + value});
    if (t.seed) args.insert(args.end(), {"--set", "seed=" + std::to_string(*t.seed)});
    if (threads_ > 0) args.insert(args.end(), {"--set", "train.threads=" + std::to_string(threads_)});
    args.insert(args.end(), {"--trial", sweep_.id + ":" + std::to_string(number), "--store", store_.path(), "-q"});
    for (const auto& p : o_.plugin_paths) args.insert(args.end(), {"--plugin-path", p});
    const std::string log = (dir_ / fmt::format("trial-{}.log", number)).string();
    finish_trial(store_, sweep_.id, number, "running", std::nullopt, "");

    const pid_t pid = start_child(
        o_.trial_exe, args,
        [&log] {
          const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
          if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        },
        "a trial process");
    running_[pid] = number;
    if (!o_.quiet) {
      std::cout << fmt::format("trial {:>3} started {}{}\n", number, t.label(),
                               t.seed ? fmt::format(" seed={}", *t.seed) : "")
                << std::flush;
    }
  }

  // Records a finished trial from its run's record (the truth even after a kill).
  void settle(std::int64_t number, const std::string& run_id, const std::string& exit_note) {
    if (run_id.empty()) {
      finish_trial(store_, sweep_.id, number, "failed", std::nullopt,
                   "the trial process ended before its run started" + exit_note);
      return;
    }
    const RunRecord r = store_.run(run_id);
    const auto objective = run_objective(store_, run_id, config_.objective);
    if (r.status == "completed" && !objective)
      finish_trial(
          store_, sweep_.id, number, "failed", std::nullopt,
          "the run completed without recording " + config_.objective.metric + " (check sweep.objective.metric)");
    else if (r.status == "completed" || r.status == "pruned" || r.status == "failed")
      finish_trial(store_, sweep_.id, number, r.status, objective, r.error);
    else
      finish_trial(store_, sweep_.id, number, "interrupted", objective,
                   r.error.empty() ? "stopped" + exit_note : r.error);
  }

  void reap(pid_t pid, int status) {
    const std::int64_t number = running_.at(pid);
    running_.erase(pid);
    const std::string run_id = find_trial(store_, sweep_.id, number)->run_id;
    const std::string note = WIFEXITED(status) ? fmt::format(" (exit {}: {})", WEXITSTATUS(status),
                                                             last_line(dir_ / fmt::format("trial-{}.log", number)))
                                               : fmt::format(" (signal {})", WTERMSIG(status));
    settle(number, run_id, note);
    if (!o_.quiet) {
      const TrialRecord t = *find_trial(store_, sweep_.id, number);
      std::cout << fmt::format("trial {:>3} {}{}{}\n", number, t.state,
                               t.objective ? fmt::format(" {} {:.4f}", config_.objective.metric, *t.objective) : "",
                               t.reason.empty() ? "" : " (" + t.reason + ")")
                << std::flush;
    }
  }

  void schedule() {
    for (;;) {
      if (!stopped_ && o_.should_stop && o_.should_stop()) stop_children();
      if (stopped_ && !killed_ && seconds_since(stop_time_) > o_.stop_grace_seconds) kill_children();
      while (!stopped_ && static_cast<std::int64_t>(running_.size()) < config_.parallel) {
        if (queue_.empty() && !draw()) break;
        const std::int64_t number = queue_.front();
        queue_.pop_front();
        launch(number);
      }
      if (running_.empty()) return;
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid > 0 && running_.count(pid))
        reap(pid, status);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  // One SIGTERM each: trials checkpoint and record themselves interrupted.
  void stop_children() {
    stopped_ = true;
    stop_time_ = std::chrono::steady_clock::now();
    for (const auto& [pid, number] : running_) ::kill(pid, SIGTERM);
    if (!o_.quiet) std::cout << "sweep " << sweep_.id << ": stopping " << running_.size() << " trials\n";
  }

  // A trial wedged past the grace period (stuck in I/O, ignoring SIGTERM) is
  // killed; its run then reads as interrupted (its pid is gone) and resumes
  // from its last checkpoint.
  void kill_children() {
    killed_ = true;
    for (const auto& [pid, number] : running_) {
      ::kill(pid, SIGKILL);
      if (!o_.quiet)
        std::cout << fmt::format("sweep {}: trial {} did not stop within {} s of SIGTERM; killed\n", sweep_.id, number,
                                 o_.stop_grace_seconds)
                  << std::flush;
    }
  }

  SweepRunOptions o_;
  const Registry& registry_;
  Store& store_;
  SweepRecord sweep_;
  SweepConfig config_;
  fs::path dir_;
  std::string spec_file_;
  std::int64_t threads_ = 0;
  std::int64_t next_config_ = 0;
  std::deque<std::int64_t> queue_;
  std::map<pid_t, std::int64_t> running_;
  std::unique_ptr<FolderLock> lock_;  ///< one process runs a sweep at a time
  bool stopped_ = false, killed_ = false;
  std::chrono::steady_clock::time_point stop_time_;
};

}  // namespace

SweepOutcome run_sweep(const SweepRunOptions& options, const Registry& registry, Store& store) {
  return Sweep(options, registry, store).run();
}

std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      std::size_t a = 0, b = 0;
      const long long i = std::stoll(text.substr(0, slash), &a), n = std::stoll(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n >= 1 && i >= 0 && i < n) return {i, n};
    }
  } catch (const std::exception&) {}
  throw std::runtime_error("--shard '" + text + "': expected I/N with 0 <= I < N, e.g. --shard 0/4");
}

}  // namespace trex
