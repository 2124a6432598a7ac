#pragma once
// `trex report RUN`: the run's story as PNGs and one HTML page — accuracy and
// loss curves (train vs validation, best epoch and early stop marked), the
// learning rate, a grid of test predictions (actual / predicted / confidence,
// wrong ones framed), the most confidently wrong ones, the confusion matrix
// as a heat map, the classification report and the key hyperparameters.
#include <memory>
#include <string>
#include <vector>

namespace trex {
class Store;
class Registry;
class Dataset;
}  // namespace trex

namespace trex::report {

struct ReportResult {
  std::string dir, html;
  std::vector<std::string> images;  ///< file names in dir, as the page refers to them
  std::size_t prediction_tiles = 0, wrong_tiles = 0;
};

/// Writes the report of `run_ref` into `out_dir` ("" = <store>/runs/<id>/report).
/// The prediction grids need the run's dataset: `dataset` when the caller has
/// it built (the run that just trained), else built from the stored spec;
/// without a test set they are left out.
ReportResult write_run_report(const Store& store, const Registry& registry, const std::string& run_ref,
                              const std::string& out_dir = "", std::shared_ptr<const Dataset> dataset = nullptr);

}  // namespace trex::report
