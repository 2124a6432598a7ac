#pragma once
// What a run keeps of its test set: the test metrics (stored at the epoch of
// the weights that were scored), every prediction (test_predictions.csv), the
// confusion matrix (confusion_matrix.csv) and the classification report as an
// evaluation, each recorded as an artifact.
#include <map>
#include <string>
#include <vector>

#include "trex/model/experiment.h"
#include "trex/plugin/metric.h"
#include "trex/train/run_recorder.h"

namespace trex {

struct Prediction {
  std::size_t position;  ///< into the test set
  std::int64_t label, predicted;
  double confidence;
};

/// Appends one (rank-gathered) batch's predictions: the arg-max class and its
/// softmax confidence, at `positions` (into the test set).
void append_predictions(const MetricBatch& batch, const std::vector<std::size_t>& positions,
                        std::vector<Prediction>& out);

/// Records the test results scored with `which` weights (best | last) of `epoch` (1-based); prints the report unless
/// `quiet`.
void record_test(RunRecorder& recorder, const Experiment& parts, const std::map<std::string, double>& values,
                 const std::vector<Prediction>& predictions, const std::string& which, std::int64_t epoch, bool quiet);

}  // namespace trex
