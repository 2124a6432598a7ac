// trex show
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "command_table.h"
#include "common.h"
#include "table.h"
#include "trex/store/store.h"

namespace trex::cli {
namespace {

int do_show(const CommonOptions& common, const std::string& ref) {
  Store store(store_path(common), true);
  RunRecord r = store.run(ref);
  std::cout << fmt::format(
      "run        {}\nname       {}\nexperiment {}\nstatus     {}{}\nstarted    {}\nduration   {}\n"
      "host       {} (pid {})\nseed       {}\nversions   trex {}, LibTorch {}, OpenCV {}\ngit        {}\n",
      r.id, r.name, r.experiment, r.status, r.error.empty() ? "" : " (" + r.error + ")", format_time(r.start_time),
      format_duration((r.end_time > 0 ? r.end_time : r.heartbeat) - r.start_time), r.host, r.pid, r.seed,
      r.trex_version, r.torch_version, r.opencv_version, r.git_commit.empty() ? "(unknown)" : r.git_commit);
  std::string machine;  // where the numbers came from (machine.* parameters)
  for (const auto& p : store.params(r.id))
    if (p.key.rfind("machine.", 0) == 0) machine += fmt::format("  {:<22} {}\n", p.key.substr(8), p.value);
  if (!machine.empty()) std::cout << "\n# machine\n" << machine;
  std::cout << "\n# resolved spec\n" << r.spec_yaml << "\n";

  // Per-epoch table: one row per epoch, one column per metric key.
  std::map<std::int64_t, std::map<std::string, double>> by_epoch;
  std::vector<std::string> keys;
  for (const auto& m : store.metrics(r.id)) {
    if (std::find(keys.begin(), keys.end(), m.key()) == keys.end()) keys.push_back(m.key());
    by_epoch[m.epoch][m.key()] = m.value;
  }
  std::map<std::int64_t, double> lrs;
  for (const auto& [e, lr] : store.learning_rates(r.id)) lrs[e] = lr;
  Table t{{"epoch"}, {}};
  for (const auto& k : keys) t.columns.push_back(k);
  t.columns.push_back("lr");
  for (const auto& [epoch, values] : by_epoch) {
    std::vector<std::string> row{std::to_string(epoch)};
    for (const auto& k : keys) row.push_back(values.count(k) ? format_number(values.at(k)) : "");
    row.push_back(lrs.count(epoch) ? fmt::format("{:.3g}", lrs[epoch]) : "");
    t.rows.push_back(row);
  }
  std::cout << "# epochs\n" << t.render("table");

  Table s{{"metric", "best", "best_epoch", "last", "min", "max"}, {}};
  for (const auto& x : store.summaries(r.id))
    s.rows.push_back({x.key, format_number(x.best), std::to_string(x.best_epoch), format_number(x.last),
                      format_number(x.min), format_number(x.max)});
  std::cout << "\n# summaries\n" << s.render("table");
  // Evaluations: the test report at the end of the run, and any `trex predict --evaluate`.
  auto ev = store.db().prepare(
      "SELECT e.id, e.checkpoint, e.source, e.examples, m.name, m.value FROM evaluations e "
      "JOIN evaluation_metrics m ON m.evaluation_id = e.id WHERE e.run_id = ? ORDER BY e.id, m.name");
  ev.bind_all(r.id);
  Table e{{"evaluation", "checkpoint", "source", "examples", "metric", "value"}, {}};
  while (ev.step())
    e.rows.push_back({std::to_string(ev.integer(0)), ev.text(1), ev.text(2), std::to_string(ev.integer(3)), ev.text(4),
                      format_number(ev.real(5))});
  if (!e.rows.empty()) std::cout << "\n# evaluations\n" << e.render("table");
  auto artifacts = store.artifacts(r.id);
  if (!artifacts.empty()) {
    std::cout << "\n# artifacts (relative to " << store.folder() << ")\n";
    for (const auto& a : artifacts) std::cout << a.kind << "  " << a.path << "\n";
  }
  return 0;
}

}  // namespace

void add_store_commands(CLI::App& app, int& exit_code) {
  auto show_common = std::make_shared<CommonOptions>();
  auto ref = std::make_shared<std::string>();
  auto* show = app.add_subcommand("show", help_of("show"));
  show->add_option("run", *ref, "run id, or a name (its latest completed run)")->required();
  add_common(*show, *show_common, true, false);
  show->callback([show_common, ref, &exit_code] { exit_code = do_show(*show_common, *ref); });
}

}  // namespace trex::cli
