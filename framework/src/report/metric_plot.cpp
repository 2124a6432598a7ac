#include "trex/report/metric_plot.h"

#include "trex/store/run_diff.h"
#include "trex/store/store.h"
#include "trex/report/chart.h"

namespace trex::report {

void write_metric_plot(const Store& store, const std::vector<std::string>& refs, const std::string& metric,
                       const std::string& png) {
  std::vector<std::string> ids;
  for (const auto& r : refs) ids.push_back(store.run(r).id);
  const auto labels = difference_labels(store, ids);
  Chart c;
  c.title = metric + " per epoch, " + std::to_string(ids.size()) + " runs";
  c.xlabel = "epoch";
  c.ylabel = metric;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Series s{labels[i], {}, {}};
    for (const auto& m : store.metrics(ids[i]))
      if (m.key() == metric) s.x.push_back(static_cast<double>(m.epoch)), s.y.push_back(m.value);
    if (!s.x.empty()) c.series.push_back(s);
  }
  if (c.series.empty())
    throw std::runtime_error("none of the runs recorded '" + metric +
                             "' (a metric key is <split>_<name>, e.g. val_accuracy)");
  render(c, png);
}

}  // namespace trex::report
