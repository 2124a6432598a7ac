#include "trex/report/metric_plot.h"

#include <algorithm>
#include <map>
#include <set>

#include "trex/core/store.h"
#include "trex/report/chart.h"

namespace trex::report {
namespace {

bool derived(const std::string& key) {
  return key.rfind("data.class_sizes.", 0) == 0 || key.rfind("data.sizes.", 0) == 0 || key.rfind("model.params.", 0) == 0;
}

// "train.optimizer.lr" -> "optimizer.lr": enough to tell keys apart in a legend.
std::string short_key(const std::string& key) {
  const auto last = key.rfind('.');
  if (last == std::string::npos || last == 0) return key;
  const auto before = key.rfind('.', last - 1);
  return before == std::string::npos ? key : key.substr(before + 1);
}

}  // namespace

std::vector<std::string> difference_labels(const Store& store, const std::vector<std::string>& ids) {
  std::vector<std::map<std::string, std::string>> params(ids.size());
  std::map<std::string, std::set<std::string>> values;
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (const auto& p : store.params(ids[i]))
      if (!derived(p.key)) params[i][p.key] = p.value;
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (const auto& [k, v] : params[i]) values[k].insert(v);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string label;
    for (const auto& [k, vs] : values) {
      const auto it = params[i].find(k);
      const bool differs = vs.size() > 1 || std::any_of(params.begin(), params.end(), [&](const auto& p) { return !p.count(k); });
      if (differs) label += (label.empty() ? "" : ", ") + short_key(k) + "=" + (it == params[i].end() ? "-" : it->second);
    }
    out.push_back(label.empty() ? ids[i] : label);
  }
  return out;
}

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
    throw std::runtime_error("none of the runs recorded '" + metric + "' (a metric key is <split>_<name>, e.g. val_accuracy)");
  render(c, png);
}

}  // namespace trex::report
