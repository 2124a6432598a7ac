#pragma once
// The spec's metric plugins for one pass (train, or evaluation), as one
// meter: reset(), add(batch), values(); and which way each metric improves.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "trex/config/spec.h"
#include "trex/plugin/metric.h"

namespace trex {

class MetricSet {
 public:
  MetricSet() = default;
  MetricSet(const ResolvedSpec& spec, const Registry& registry);
  void reset();
  void add(const MetricBatch& batch);
  /// Each metric's value by its name ("accuracy", "loss", ...).
  std::map<std::string, double> values() const;
  /// Metric name -> higher is better.
  const std::map<std::string, bool>& directions() const { return directions_; }
  /// Whether `key` (<split>_<name>) improves upward: `mode` max or min, or auto (the metric's own direction).
  bool higher_is_better(const std::string& key, const std::string& mode) const;

 private:
  std::vector<std::shared_ptr<Metric>> metrics_;
  std::vector<std::string> names_;
  std::map<std::string, bool> directions_;
};

}  // namespace trex
