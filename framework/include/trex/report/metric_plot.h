#pragma once
// `trex plot RUN... --metric val_accuracy`: several runs' curves of one metric
// on one chart, each named by the parameters in which the runs differ.
#include <string>
#include <vector>

namespace trex {
class Store;
}

namespace trex::report {

/// Writes the chart to `png`; throws when no run recorded `metric` (<split>_<name>).
void write_metric_plot(const Store& store, const std::vector<std::string>& run_refs, const std::string& metric,
                       const std::string& png);

}  // namespace trex::report
