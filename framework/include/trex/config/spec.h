#pragma once
// A resolved experiment spec: bases merged, --set overrides applied, every
// plugin node validated against its schema and filled with defaults. This is
// what a run stores and what `trex validate` prints.
#include <string>
#include <vector>

#include "trex/config/composite_spec.h"
#include "trex/config/train_options.h"
#include "trex/registry/registry.h"

namespace trex {

/// Host-side options every dataset accepts, next to its own keys.
struct DataOptions {
  std::int64_t limit = 0;               ///< images per split, 0 = all (seeded, stratified)
  std::int64_t per_class_limit = 0;     ///< images per class and split, 0 = all
  double val_fraction = 0.1;            ///< carved from train when the dataset has no val split
  std::string val_mode = "stratified";  ///< stratified | tail (Keras validation_split)
  double test_fraction = 0;             ///< carved first when the dataset has no test split
  std::int64_t train_per_class = 0;     ///< labelled training images per class, taken after the held-out sets; 0 = all
  std::int64_t split_seed = -1;         ///< seed of the split and subsets; -1 = the spec's seed
};

struct AugmentStep {
  ResolvedPlugin plugin;
  double p = 1.0;  ///< probability of applying
};

struct MetricStep {
  ResolvedPlugin plugin;
  std::string name;  ///< the metric's name in keys like val_<name>
};

struct FlatParam {
  std::string key;    ///< dotted path, list items by index
  std::string value;  ///< text as written in the resolved YAML
  std::string type;   ///< bool | int | float | string | null
};

struct ResolvedSpec {
  std::string file;
  std::string name;
  std::uint64_t seed = 0;
  ResolvedPlugin data;
  DataOptions data_options;
  std::vector<AugmentStep> augment_train;
  std::vector<AugmentStep> augment_eval;
  ResolvedPlugin model;                    ///< the model plugin (the backbone of a composite)
  std::optional<CompositeSpec> composite;  ///< set for `model: {backbone: ..., head: ...}`
  std::vector<MetricStep> metrics;
  TrainOptions train;
  Node sweep;  ///< kept as written (sweeps read it)
  Node tree;   ///< the whole resolved spec

  std::string yaml() const { return to_yaml(tree); }
  std::vector<FlatParam> flat() const;
};

Schema dataset_host_keys();
Schema augmentation_host_keys();
Schema metric_host_keys();
Schema model_host_keys();

/// Validates a loaded tree; every problem is collected into one SpecError.
ResolvedSpec resolve_spec(const Node& tree, const Registry& registry, const std::string& file);

/// Loads a spec file with its bases, applies `overrides` and resolves it.
ResolvedSpec load_spec(const std::string& path, const std::vector<std::string>& overrides, const Registry& registry);

/// Resolves a spec stored as YAML text (a run's record), e.g. for --resume.
ResolvedSpec load_spec_text(const std::string& yaml, const std::string& label, const Registry& registry);

/// Flattens a node into dotted keys, list items by index.
std::vector<FlatParam> flatten(const Node& node);

}  // namespace trex
