// trex runs (--where --sort --columns), trex compare, trex best, trex sql
#include <cmath>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_table.h"
#include "common.h"
#include "table.h"
#include "trex/store/cell_json.h"
#include "trex/store/query.h"
#include "trex/store/run_diff.h"
#include "trex/store/store.h"
#include "trex/sweep/sweep_store.h"

namespace trex::cli {
namespace {

const char* kDefaultColumns = "id,name,experiment,status,start_time,duration,main_metric,main_best,main_last";

std::string cell_text(const sql::Cell& c, const std::string& label) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (auto s = std::get_if<std::string>(&c)) return *s;
  const double v =
      std::holds_alternative<double>(c) ? std::get<double>(c) : static_cast<double>(std::get<std::int64_t>(c));
  if (label == "start_time" || label == "end_time") return format_time(v);
  if (label == "duration") return format_duration(v);
  if (auto i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
  return fmt::format("{:.6g}", v);
}

using Rows = std::vector<std::vector<sql::Cell>>;

/// Rows as a table, or JSON with typed values.
void print_rows(const Rows& rows, const std::vector<std::string>& labels, const std::string& format) {
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json row = nlohmann::json::object();
      for (std::size_t i = 0; i < r.size(); ++i) row[labels[i]] = cell_json(r[i]);
      out.push_back(row);
    }
    std::cout << json_text(out, 2) << "\n";
    return;
  }
  Table t{labels, {}};
  for (const auto& r : rows) {
    std::vector<std::string> row;
    for (std::size_t i = 0; i < r.size(); ++i) row.push_back(cell_text(r[i], labels[i]));
    t.rows.push_back(row);
  }
  std::cout << t.render(format);
}

std::vector<sql::Cell> row_of(const sql::Statement& s) {
  std::vector<sql::Cell> row;
  for (int i = 0; i < s.columns(); ++i) row.push_back(s.column(i));
  return row;
}

Rows all_rows(sql::Statement& s) {
  Rows rows;
  while (s.step()) rows.push_back(row_of(s));
  return rows;
}

struct RunsArgs {
  CommonOptions common;
  std::string format = "table", where, sort, columns = kDefaultColumns;
  std::int64_t limit = -1, offset = 0;
  bool count = false, explain = false;
};

int do_runs(const RunsArgs& a) {
  Store store(store_path(a.common), true);
  if (a.count) {
    std::cout << query::count_runs(store.db(), a.where) << "\n";
    return 0;
  }
  query::RunQuery q{a.where, a.sort, {}, a.limit, a.offset};
  std::vector<std::string> labels;
  for (const auto& name : query::parse_sort(a.columns)) {  // same comma list syntax, no direction
    q.select.push_back(name.field);
    labels.push_back(name.field.label());
  }
  if (a.explain) {
    for (const auto& part : query::compile(q).parts) {
      std::cout << part.text << "\n";
      auto plan = store.db().prepare("EXPLAIN QUERY PLAN " + part.text);
      plan.bind_cells(part.binds);
      while (plan.step()) std::cout << "  " << plan.text(3) << "\n";
    }
    return 0;
  }
  Rows rows;
  query::run_query(store.db(), q, [&](sql::Statement& s) { rows.push_back(row_of(s)); });
  print_rows(rows, labels, a.format);
  return 0;
}

// --- compare -----------------------------------------------------------------
int do_compare(const CommonOptions& common, const std::vector<std::string>& refs, bool all, const std::string& format) {
  Store store(store_path(common), true);
  std::vector<RunRecord> runs;
  for (const auto& r : refs) runs.push_back(store.run(r));
  std::vector<std::string> ids;
  for (const auto& r : runs) ids.push_back(r.id);
  Table t{{"parameter"}, {}};
  t.columns.insert(t.columns.end(), ids.begin(), ids.end());
  if (all) {
    std::map<std::string, std::vector<std::string>> params;  // key -> value per run
    for (std::size_t i = 0; i < ids.size(); ++i)
      for (const auto& p : store.params(ids[i])) {
        auto& row = params[p.key];
        row.resize(ids.size());
        row[i] = p.value;
      }
    for (auto& [key, values] : params) {
      values.resize(ids.size());
      t.rows.push_back({key});
      t.rows.back().insert(t.rows.back().end(), values.begin(), values.end());
    }
  } else {
    for (const auto& d : differing_params(store, ids)) {
      t.rows.push_back({d.key});
      t.rows.back().insert(t.rows.back().end(), d.values.begin(), d.values.end());
    }
  }
  std::cout << "# parameters" << (all ? "" : " that differ (--all for every one)") << "\n" << t.render(format);
  Table m{{"metric"}, {}};
  for (const auto& r : runs) m.columns.push_back(r.id);
  std::map<std::string, std::vector<std::string>> metrics;
  for (std::size_t i = 0; i < runs.size(); ++i)
    for (const auto& s : store.summaries(runs[i].id)) {
      for (const char* which : {"best", "last"}) {
        auto& row = metrics[s.key + " (" + which + ")"];
        row.resize(runs.size());
        row[i] = std::string(which) == "best" ? fmt::format("{} @{}", format_number(s.best), s.best_epoch)
                                              : format_number(s.last);
      }
    }
  for (auto& [key, values] : metrics) {
    values.resize(runs.size());
    std::vector<std::string> row{key};
    row.insert(row.end(), values.begin(), values.end());
    m.rows.push_back(row);
  }
  std::cout << "\n# metrics (best @epoch, last)\n" << m.render(format);
  std::cout << "\n# status\n";
  for (const auto& r : runs) std::cout << r.id << "  " << r.name << "  " << r.status << "\n";
  return 0;
}

// --- best ----------------------------------------------------------------------
struct Group {
  std::string label;
  std::vector<double> values;
  std::vector<std::string> runs;
};

int do_best(const CommonOptions& common, const std::string& target, std::string metric, std::string mode,
            const std::string& summary, std::int64_t top, const std::string& format) {
  Store store(store_path(common), true);
  std::vector<RunRecord> runs;
  std::map<std::string, std::string> label_of;  // run id -> configuration label
  std::set<std::string> searched;
  if (auto sweep = find_sweep(store, target)) {
    const SweepConfig config = stored_sweep_config(*sweep);
    if (metric.empty()) metric = config.objective.metric;
    if (mode.empty()) mode = config.objective.maximize ? "max" : "min";
    for (const auto& t : list_trials(store, sweep->id)) {
      if (t.run_id.empty()) continue;
      label_of[t.run_id] = t.label();
    }
    for (const auto& [id, label] : label_of) runs.push_back(store.run(id));
  } else {
    for (const auto& r : store.runs())
      if (r.experiment == target) runs.push_back(r);
    if (runs.empty())
      throw std::runtime_error("'" + target + "' is neither a sweep id nor an experiment name in " + store.path() +
                               "; see `trex sweeps` and `trex runs`");
    // Runs that differ only in their seed are one configuration.
    std::map<std::string, std::map<std::string, std::string>> all;
    std::map<std::string, std::set<std::string>> values_of;
    for (const auto& r : runs)
      for (const auto& p : store.params(r.id))
        if (p.key != "seed") all[r.id][p.key] = p.value, values_of[p.key].insert(p.value);
    for (const auto& r : runs) {
      std::string label;
      for (const auto& [k, vs] : values_of)
        if (vs.size() > 1) label += (label.empty() ? "" : " ") + k + "=" + (all[r.id].count(k) ? all[r.id][k] : "-");
      label_of[r.id] = label.empty() ? "(same parameters)" : label;
    }
    if (metric.empty()) metric = runs.front().main_metric.empty() ? "val_accuracy" : runs.front().main_metric;
  }
  std::map<std::string, Group> groups;
  bool higher = mode != "min";
  for (const auto& r : runs) {
    if (r.status != "completed") continue;
    for (const auto& s : store.summaries(r.id)) {
      if (s.key != metric) continue;
      if (mode.empty()) higher = s.higher_is_better;
      auto& g = groups[label_of[r.id]];
      g.label = label_of[r.id];
      g.values.push_back(summary == "last" ? s.last : s.best);
      g.runs.push_back(r.id);
    }
  }
  if (groups.empty()) throw std::runtime_error("no completed run of '" + target + "' recorded " + metric);
  std::vector<Group> ranked;
  for (auto& [k, g] : groups) ranked.push_back(g);
  auto mean = [](const Group& g) {
    double m = 0;
    for (double v : g.values) m += v;
    return m / static_cast<double>(g.values.size());
  };
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const Group& a, const Group& b) { return higher ? mean(a) > mean(b) : mean(a) < mean(b); });
  Table t{{"rank", "configuration", summary + "." + metric + " mean", "std", "n", "runs"}, {}};
  for (std::size_t i = 0; i < ranked.size() && (top < 0 || static_cast<std::int64_t>(i) < top); ++i) {
    const Group& g = ranked[i];
    const double m = mean(g);
    double var = 0;
    for (double v : g.values) var += (v - m) * (v - m);
    const double sd = g.values.size() > 1 ? std::sqrt(var / static_cast<double>(g.values.size() - 1)) : 0;
    std::string ids;
    for (const auto& id : g.runs) ids += (ids.empty() ? "" : " ") + id;
    t.rows.push_back({std::to_string(i + 1), g.label, fmt::format("{:.4f}", m), fmt::format("{:.4f}", sd),
                      std::to_string(g.values.size()), ids});
  }
  std::cout << t.render(format);
  return 0;
}

// --- sql -------------------------------------------------------------------------
int do_sql(const CommonOptions& common, const std::string& text, const std::string& format) {
  // Read-only twice over: the file is opened read-only and the connection refuses writes.
  Store store(store_path(common), true);
  store.db().exec("PRAGMA query_only=ON");
  auto s = store.db().prepare_one(text);
  std::vector<std::string> labels;
  for (int i = 0; i < s.columns(); ++i) labels.push_back(s.column_name(i));
  print_rows(all_rows(s), labels, format);
  return 0;
}

}  // namespace

void add_query_commands(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<RunsArgs>();
  auto* runs = app.add_subcommand("runs", help_of("runs"));
  runs->add_option(
      "--where", a->where,
      "filter, e.g. \"params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9 and status = completed\"");
  runs->add_option("--sort", a->sort, "comma list of fields; a leading - sorts descending: -best.val_accuracy");
  runs->add_option("--columns", a->columns, "comma list of fields to show")->capture_default_str();
  runs->add_option("--limit", a->limit, "at most this many rows");
  runs->add_option("--offset", a->offset, "skip this many rows first (pages)");
  runs->add_flag("--count", a->count, "print only the number of matching runs");
  runs->add_flag("--explain", a->explain, "print the SQL (values bound as ?) and SQLite's query plan instead of rows");
  runs->add_option("--format", a->format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*runs, a->common, true, false);
  runs->footer(
      "Fields: id name experiment status error host pid seed sweep trial start_time end_time duration\n"
      "main_metric main_best main_last, params.<dotted key>, best|last|min|max|best_epoch.<split>_<metric>.\n"
      "Operators: = != < <= > >= in (..) not in (..) like, is [not] null; and or not ( ).");
  runs->callback([a, &exit_code] { exit_code = do_runs(*a); });

  auto cc = std::make_shared<CommonOptions>();
  auto refs = std::make_shared<std::vector<std::string>>();
  auto all = std::make_shared<bool>(false);
  auto cformat = std::make_shared<std::string>("table");
  auto* compare = app.add_subcommand("compare", help_of("compare"));
  compare->add_option("runs", *refs, "run ids or names")->required()->expected(2, -1);
  compare->add_flag("--all", *all, "show every parameter, not only the differing ones");
  compare->add_option("--format", *cformat, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*compare, *cc, true, false);
  compare->callback([cc, refs, all, cformat, &exit_code] { exit_code = do_compare(*cc, *refs, *all, *cformat); });

  struct BestArgs {
    CommonOptions common;
    std::string target, metric, mode, summary = "best", format = "table";
    std::int64_t top = 10;
  };
  auto b = std::make_shared<BestArgs>();
  auto* best = app.add_subcommand("best", help_of("best"));
  best->add_option("target", b->target, "sweep id, or an experiment's name")->required();
  best->add_option("--metric", b->metric,
                   "e.g. val_accuracy (default: the sweep's objective or the run's main metric)");
  best->add_option("--mode", b->mode, "max or min (default: the metric's own direction)")
      ->check(CLI::IsMember({"max", "min"}));
  best->add_option("--summary", b->summary, "best or last value of each run")->check(CLI::IsMember({"best", "last"}));
  best->add_option("--top", b->top, "rows to show (-1: all)");
  best->add_option("--format", b->format, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*best, b->common, true, false);
  best->callback([b, &exit_code] {
    exit_code = do_best(b->common, b->target, b->metric, b->mode, b->summary, b->top, b->format);
  });

  auto sc = std::make_shared<CommonOptions>();
  auto text = std::make_shared<std::string>();
  auto sformat = std::make_shared<std::string>("table");
  auto* sql = app.add_subcommand("sql", help_of("sql"));
  sql->add_option("query", *text, "one SELECT statement")->required();
  sql->add_option("--format", *sformat, "table, csv or json")->check(CLI::IsMember({"table", "csv", "json"}));
  add_common(*sql, *sc, true, false);
  sql->callback([sc, text, sformat, &exit_code] { exit_code = do_sql(*sc, *text, *sformat); });
}

}  // namespace trex::cli
