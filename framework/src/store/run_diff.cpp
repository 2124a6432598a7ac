#include "trex/store/run_diff.h"

#include <map>
#include <set>

#include "trex/store/store.h"

namespace trex {
namespace {

// Derived facts are not the knobs a comparison is about; machine.* facts are
// (they say which CPU, BLAS and precision produced the numbers).
bool derived(const std::string& key) {
  return key.rfind("data.class_sizes.", 0) == 0 || key.rfind("data.sizes.", 0) == 0 ||
         key.rfind("model.params.", 0) == 0;
}

// "train.optimizer.lr" -> "optimizer.lr": enough to tell keys apart in a legend.
std::string short_key(const std::string& key) {
  const auto last = key.rfind('.');
  if (last == std::string::npos || last == 0) return key;
  const auto before = key.rfind('.', last - 1);
  return before == std::string::npos ? key : key.substr(before + 1);
}

}  // namespace

std::vector<ParamDifference> differing_params(const Store& store, const std::vector<std::string>& ids) {
  std::map<std::string, std::vector<std::string>> table;
  std::map<std::string, std::size_t> present;
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (const auto& p : store.params(ids[i])) {
      if (derived(p.key)) continue;
      auto& row = table[p.key];
      row.resize(ids.size());
      row[i] = p.value;
      ++present[p.key];
    }
  std::vector<ParamDifference> out;
  for (auto& [key, values] : table) {
    values.resize(ids.size());
    if (std::set<std::string>(values.begin(), values.end()).size() > 1 || present[key] < ids.size())
      out.push_back({key, values});
  }
  return out;
}

std::vector<std::string> difference_labels(const Store& store, const std::vector<std::string>& ids) {
  const auto diffs = differing_params(store, ids);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::string label;
    for (const auto& d : diffs)
      label += (label.empty() ? "" : ", ") + short_key(d.key) + "=" + (d.values[i].empty() ? "-" : d.values[i]);
    out.push_back(label.empty() ? ids[i] : label);
  }
  return out;
}

}  // namespace trex
