#include "trex/sweep/sweep_store.h"

#include "trex/store/cell_json.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "trex/sweep/pruner.h"
#include "trex/config/yaml_loader.h"

namespace trex {
namespace {

const char* kSweepColumns =
    "id, key, name, spec_path, spec_yaml, method, config, state, created, updated, host, pid, shard_index, shard_count";

SweepRecord read_sweep(const sql::Statement& s) {
  SweepRecord r;
  r.id = s.text(0), r.key = s.text(1), r.name = s.text(2), r.spec_path = s.text(3), r.spec_yaml = s.text(4);
  r.method = s.text(5), r.config = s.text(6), r.state = s.text(7);
  r.created = s.real(8), r.updated = s.real(9), r.host = s.text(10), r.pid = s.integer(11);
  r.shard_index = s.integer(12), r.shard_count = s.integer(13);
  return r;
}

std::vector<SweepRecord> sweeps_where(const Store& store, const std::string& where,
                                      const std::vector<sql::Cell>& binds) {
  auto s = store.db().prepare(std::string("SELECT ") + kSweepColumns + " FROM sweeps " + where);
  s.bind_cells(binds);
  std::vector<SweepRecord> out;
  while (s.step()) out.push_back(read_sweep(s));
  return out;
}

sql::Cell optional_cell(const std::optional<double>& v) { return v ? sql::Cell{*v} : sql::Cell{}; }

}  // namespace

std::vector<std::pair<std::string, std::string>> TrialRecord::values() const {
  std::vector<std::pair<std::string, std::string>> out;
  const nlohmann::json j = nlohmann::json::parse(params, nullptr, false);
  if (!j.is_object())
    throw std::runtime_error("sweep " + sweep_id + " trial " + std::to_string(number) +
                             ": its stored params are not a JSON object of key: value text; the store is damaged");
  for (const auto& [key, value] : j.items())
    out.emplace_back(key, value.is_string() ? value.get<std::string>() : json_text(value));
  return out;
}

std::string TrialRecord::label() const {
  std::string out;
  for (const auto& [key, value] : values()) out += (out.empty() ? "" : " ") + key + "=" + value;
  return out;
}

void create_sweep(Store& store, const SweepRecord& r) {
  store.db()
      .prepare(std::string("INSERT INTO sweeps(") + kSweepColumns + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
      .bind_all(r.id, r.key, r.name, r.spec_path, r.spec_yaml, r.method, r.config, r.state, r.created, r.updated,
                r.host, r.pid, r.shard_index, r.shard_count)
      .run();
}

std::optional<SweepRecord> find_sweep(const Store& store, const std::string& id) {
  auto found = sweeps_where(store, "WHERE id = ?", {id});
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::optional<SweepRecord> latest_sweep(const Store& store, const std::string& key, const std::string& spec_path) {
  auto found = sweeps_where(store, "WHERE key = ? ORDER BY created DESC LIMIT 1", {key});
  if (found.empty()) found = sweeps_where(store, "WHERE spec_path = ? ORDER BY created DESC LIMIT 1", {spec_path});
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<SweepRecord> list_sweeps(const Store& store) { return sweeps_where(store, "ORDER BY created", {}); }

void set_sweep_state(Store& store, const std::string& id, const std::string& state) {
  store.db().prepare("UPDATE sweeps SET state=?, updated=? WHERE id=?").bind_all(state, now_seconds(), id).run();
}

void claim_sweep(Store& store, const std::string& id) {
  store.db()
      .prepare("UPDATE sweeps SET state='running', updated=?, host=?, pid=? WHERE id=?")
      .bind_all(now_seconds(), host_name(), std::int64_t{getpid()}, id)
      .run();
}

void add_trial(Store& store, const TrialRecord& t) {
  store.db()
      .prepare(
          "INSERT OR REPLACE INTO trials(sweep_id, number, config, seed, params, point, state, run_id, objective, "
          "reason, attempts, updated) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)")
      .bind_all(t.sweep_id, t.number, t.config, t.seed ? sql::Cell{*t.seed} : sql::Cell{}, t.params, t.point, t.state,
                t.run_id.empty() ? sql::Cell{} : sql::Cell{t.run_id}, optional_cell(t.objective), t.reason, t.attempts,
                now_seconds())
      .run();
}

namespace {

std::vector<TrialRecord> trials_where(const Store& store, const std::string& where,
                                      const std::vector<sql::Cell>& binds) {
  auto s = store.db().prepare(
      "SELECT sweep_id, number, config, seed, params, point, state, run_id, objective, reason, attempts FROM trials " +
      where);
  s.bind_cells(binds);
  std::vector<TrialRecord> out;
  while (s.step()) {
    TrialRecord t;
    t.sweep_id = s.text(0), t.number = s.integer(1), t.config = s.integer(2);
    if (!s.is_null(3)) t.seed = s.integer(3);
    t.params = s.text(4), t.point = s.text(5), t.state = s.text(6), t.run_id = s.text(7);
    if (!s.is_null(8)) t.objective = s.real(8);
    t.reason = s.text(9), t.attempts = s.integer(10);
    out.push_back(t);
  }
  return out;
}

}  // namespace

std::vector<TrialRecord> list_trials(const Store& store, const std::string& sweep_id) {
  return trials_where(store, "WHERE sweep_id = ? ORDER BY number", {sweep_id});
}

std::optional<TrialRecord> find_trial(const Store& store, const std::string& sweep_id, std::int64_t number) {
  auto found = trials_where(store, "WHERE sweep_id = ? AND number = ?", {sweep_id, number});
  if (found.empty()) return std::nullopt;
  return found.front();
}

void finish_trial(Store& store, const std::string& sweep_id, std::int64_t number, const std::string& state,
                  std::optional<double> objective, const std::string& reason) {
  store.db()
      .prepare("UPDATE trials SET state=?, objective=?, reason=?, updated=? WHERE sweep_id=? AND number=?")
      .bind_all(state, optional_cell(objective), reason, now_seconds(), sweep_id, number)
      .run();
}

std::optional<double> run_objective(const Store& store, const std::string& run_id, const SweepObjective& objective) {
  auto s = store.db().prepare(std::string("SELECT ") + (objective.summary == "last" ? "last" : "best") +
                              " FROM summaries WHERE run_id=? AND key=?");
  s.bind_all(run_id, objective.metric);
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return s.real(0);
}

SweepConfig stored_sweep_config(const SweepRecord& sweep) {
  return parse_sweep(parse_yaml(sweep.config, "sweep " + sweep.id), "sweep " + sweep.id);
}

std::string trial_prune_reason(const Store& store, const std::string& sweep_id, const SweepConfig& config,
                               const std::string& run_id, std::int64_t epoch) {
  if (config.pruner.method == "none") return "";
  const std::string& key = config.objective.metric;
  const auto us = key.find('_');
  const std::string split = key.substr(0, us), name = key.substr(us + 1);
  auto values_at = [&](const std::string& status_filter) {
    auto s = store.db().prepare(
        "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.sweep_id = ? AND r.id != ? AND m.epoch = "
        "? "
        "AND m.split = ? AND m.name = ?" +
        status_filter);
    s.bind_all(sweep_id, run_id, epoch, split, name);
    std::vector<double> out;
    while (s.step()) out.push_back(s.real(0));
    return out;
  };
  if (config.pruner.method == "median") {
    auto best = run_objective(store, run_id, {key, config.objective.maximize, "best"});
    if (!best) return "";
    return median_prune(*best, values_at(" AND r.status = 'completed'"), epoch, config.pruner,
                        config.objective.maximize);
  }
  auto s = store.db().prepare("SELECT value FROM metrics WHERE run_id=? AND epoch=? AND split=? AND name=?");
  s.bind_all(run_id, epoch, split, name);
  if (!s.step()) return "";
  return asha_prune(s.real(0), values_at(""), epoch, config.pruner, config.objective.maximize);
}

}  // namespace trex
