#include "trex/train/metric_set.h"

namespace trex {

MetricSet::MetricSet(const ResolvedSpec& spec, const Registry& registry) {
  for (const auto& m : spec.metrics) {
    metrics_.push_back(registry.create_as<Metric>(m.plugin, {}));
    names_.push_back(m.name);
    directions_[m.name] = m.plugin.ref.record->descriptor->higher_is_better;
  }
}

void MetricSet::reset() {
  for (auto& m : metrics_) m->reset();
}

void MetricSet::add(const MetricBatch& batch) {
  for (auto& m : metrics_) m->add(batch);
}

std::map<std::string, double> MetricSet::values() const {
  std::map<std::string, double> out;
  for (std::size_t i = 0; i < metrics_.size(); ++i) out[names_[i]] = metrics_[i]->value();
  return out;
}

bool MetricSet::higher_is_better(const std::string& key, const std::string& mode) const {
  if (mode == "max") return true;
  if (mode == "min") return false;
  const auto underscore = key.find('_');
  const std::string name = underscore == std::string::npos ? key : key.substr(underscore + 1);
  auto it = directions_.find(name);
  return it == directions_.end() ? true : it->second;
}

}  // namespace trex
