#pragma once
// What tells runs apart: the parameters whose values differ between them.
#include <string>
#include <vector>

namespace trex {

class Store;

struct ParamDifference {
  std::string key;
  std::vector<std::string> values;  ///< one per run, "" where the run lacks the key
};

/// Parameters that differ between the runs (derived sizes left out).
std::vector<ParamDifference> differing_params(const Store& store, const std::vector<std::string>& run_ids);
/// Legend labels: per run, "key=value, ..." over the differing parameters
/// (keys shortened to their last two parts); the run id when none differ.
std::vector<std::string> difference_labels(const Store& store, const std::vector<std::string>& run_ids);

}  // namespace trex
