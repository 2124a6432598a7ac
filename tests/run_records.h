#pragma once
// What the tests read back from a store about a run: its metrics and params,
// and the check that two runs' metrics agree. Include after catch.hpp: it checks.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "trex/store/store.h"

namespace trex::test {

/// Every stored metric of a run: "split_name@epoch" -> value.
inline std::map<std::string, double> stored_metrics(const Store& store, const std::string& run) {
  std::map<std::string, double> out;
  for (const auto& m : store.metrics(run)) out[m.split + "_" + m.name + "@" + std::to_string(m.epoch)] = m.value;
  return out;
}

inline std::map<std::string, double> stored_metrics(const std::string& store, const std::string& run) {
  return stored_metrics(Store(store, true), run);
}

/// A run's stored parameter ("" when it has none).
inline std::string stored_param(const Store& store, const std::string& run, const std::string& key) {
  for (const auto& p : store.params(run))
    if (p.key == key) return p.value;
  return "";
}

/// The same metrics, each of `b` within a relative `tolerance` of `a`'s, and at least `min_rows` of them.
inline void check_metrics_close(const std::map<std::string, double>& a, const std::map<std::string, double>& b,
                                double tolerance, std::size_t min_rows) {
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() >= min_rows);
  for (const auto& [key, v] : a) {
    INFO(key << ": " << v << " vs " << (b.count(key) ? std::to_string(b.at(key)) : "missing"));
    REQUIRE(b.count(key));
    CHECK(std::abs(v - b.at(key)) <= tolerance * std::max(1.0, std::abs(v)));
  }
}

}  // namespace trex::test
