// trex eda SPEC, trex report RUN, trex plot RUN... --metric M
#include <filesystem>
#include <iostream>

#include "command_table.h"
#include "common.h"
#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/report/eda.h"
#include "trex/report/metric_plot.h"
#include "trex/report/run_report.h"

namespace trex::cli {

void add_report_commands(CLI::App& app, int& exit_code) {
  struct EdaArgs {
    CommonOptions common;
    std::string spec, out;
    std::vector<std::string> sets;
    std::size_t max_images = 2000;
  };
  auto e = std::make_shared<EdaArgs>();
  auto* eda = app.add_subcommand("eda", help_of("eda"));
  eda->add_option("spec", e->spec, "experiment YAML")->required();
  eda->add_option("--set", e->sets, "override a dotted key (repeatable)");
  eda->add_option("--out", e->out, "folder (default: results/eda/<spec name>)");
  eda->add_option("--max-images", e->max_images, "images measured for sizes and intensities (a seeded sample)")
      ->capture_default_str();
  add_common(*eda, e->common, false, true);
  eda->callback([e, &exit_code] {
    auto registry = make_registry(e->common);
    const ResolvedSpec spec = load_spec(e->spec, e->sets, *registry);
    const std::string out = e->out.empty() ? "results/eda/" + spec.name : e->out;
    const auto r = report::write_eda(spec, *registry, out, e->max_images);
    std::cout << r.summary << "wrote " << r.html << " and " << r.images.size() << " images\n";
    exit_code = 0;
  });

  struct ReportArgs {
    CommonOptions common;
    std::string run, out;
  };
  auto r = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", help_of("report"));
  report->add_option("run", r->run, "run id, or a name (its latest completed run)")->required();
  report->add_option("--out", r->out, "folder (default: <store folder>/runs/<run-id>/report)");
  add_common(*report, r->common);
  report->callback([r, &exit_code] {
    auto registry = make_registry(r->common);
    Store store(store_path(r->common), true);
    const auto res = report::write_run_report(store, *registry, r->run, r->out);
    std::cout << "wrote " << res.html << " (" << res.images.size() << " images)\n";
    exit_code = 0;
  });

  struct PlotArgs {
    CommonOptions common;
    std::vector<std::string> runs;
    std::string metric = "val_accuracy", out;
  };
  auto p = std::make_shared<PlotArgs>();
  auto* plot = app.add_subcommand("plot", help_of("plot"));
  plot->add_option("runs", p->runs, "run ids or names")->required();
  plot->add_option("--metric", p->metric, "<split>_<name>, e.g. val_loss")->capture_default_str();
  plot->add_option("--out", p->out, "PNG file (default: results/plots/<metric>.png)");
  add_common(*plot, p->common, true, false);
  plot->callback([p, &exit_code] {
    Store store(store_path(p->common), true);
    const std::string out = p->out.empty() ? "results/plots/" + p->metric + ".png" : p->out;
    report::write_metric_plot(store, p->runs, p->metric, out);
    std::cout << "wrote " << out << "\n";
    exit_code = 0;
  });
}

}  // namespace trex::cli
