#pragma once
// Using a trained run: load its model from a checkpoint and classify images
// with the run's own eval preprocessing (taken from its stored spec).
#include <string>
#include <vector>

#include "trex/model/experiment.h"
#include "trex/model/precision.h"
#include "trex/store/store.h"

namespace trex {

struct RankedClass {
  std::int64_t index;
  float probability;
};

struct PredictionRow {
  std::string source;       ///< file path, or "split:INDEX"
  std::int64_t label = -1;  ///< known label (dataset splits), else -1
  std::vector<RankedClass> top;
  std::string error;  ///< why the input was skipped
};

/// A run loaded for inference.
class TrainedRun {
 public:
  /// `ref` is RUN, RUN@best or RUN@last.
  TrainedRun(const Store& store, const Registry& registry, const std::string& ref);

  const RunRecord& record() const { return record_; }
  const ResolvedSpec& spec() const { return spec_; }
  Experiment& parts() { return parts_; }
  const std::string& checkpoint() const { return checkpoint_; }
  std::string checkpoint_name() const;  ///< best | last

  /// Reads an image file and brings it to the dataset's image shape and
  /// channel count (gray/colour converted, resized), ready for the eval pipeline.
  cv::Mat load_image(const std::string& path) const;

  std::vector<PredictionRow> predict_files(const std::vector<std::string>& files, int top_k, int batch_size);
  std::vector<PredictionRow> predict_split(const std::string& split, int top_k, int batch_size);

  /// Logits for a batch already preprocessed ([B, C, H, W]), eval mode, no grad.
  at::Tensor logits(const at::Tensor& batch);
  /// The precision the run trained and scored its test set with (its machine.precision).
  const Precision& run_precision() const { return run_precision_; }
  /// Computes in `p` from here on (export traces in fp32 and NCHW, what any consumer can run).
  void use_precision(const Precision& p);

 private:
  std::vector<PredictionRow> rank(const at::Tensor& logits, int top_k) const;

  RunRecord record_;
  ResolvedSpec spec_;
  Experiment parts_;
  std::string checkpoint_;
  Precision run_precision_;  ///< bf16 autocast where the run trained and tested with it
  Precision precision_;      ///< what logits() uses: run_precision_ unless use_precision() said otherwise
};

/// Image files among `inputs`: files as given, folders searched recursively
/// for common image extensions, sorted.
std::vector<std::string> collect_images(const std::vector<std::string>& inputs);

}  // namespace trex
