#pragma once
// The parts a resolved spec builds from plugins — dataset and its splits, the
// train and eval pipelines, the model — shared by training, prediction and
// inspection, so all of them preprocess exactly alike.
#include <memory>
#include <optional>

#include <torch/nn/module.h>

#include "trex/common/phases.h"
#include "trex/model/checkpoint.h"
#include "trex/data/loader.h"
#include "trex/config/spec.h"
#include "trex/plugin/model.h"

namespace trex {

struct Experiment {
  std::shared_ptr<Dataset> dataset;
  SplitPlan plan;
  Pipeline train_pipeline, eval_pipeline;
  ImageShape data_shape;   ///< images as the dataset yields them
  ImageShape input_shape;  ///< what the model takes, after the pipelines
  std::vector<std::string> class_names;
  std::shared_ptr<Model> model;
  std::shared_ptr<torch::nn::Module> module;  ///< the model's module; keeps the model (and its library) alive
  /// A composite's backbone weights file and the tensors it supplied (keys:
  /// all it loaded); unset when the backbone starts from its initialisation.
  /// The checksum is left empty: hashing a 528 MB file is for training, which
  /// records the reference, not for predict or export.
  std::optional<WeightsRef> backbone_weights;
};

Pipeline build_pipeline(const std::vector<AugmentStep>& steps, const Registry& registry);

class Store;

/// The data parts only (dataset, splits, pipelines, shapes; no model): what
/// the loader alone needs.
Experiment build_data(const ResolvedSpec& spec, const Registry& registry);
/// Builds every part; the model is seeded with the spec's seed and loads
/// model.weights when set (`run:` references need `store`); marks "data",
/// "model" and "weights" on `phases` when given.
Experiment build_experiment(const ResolvedSpec& spec, const Registry& registry, const Store* store = nullptr,
                            Phases* phases = nullptr);

/// What a checkpoint of this experiment's model may reference instead of
/// holding: the backbone weights file and the tensors training leaves as the
/// file has them (frozen parameters, frozen BatchNorm buffers); nullopt when none.
std::optional<WeightsRef> frozen_weights_ref(const Experiment& parts);

}  // namespace trex
