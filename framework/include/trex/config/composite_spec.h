#pragma once
// Transfer learning by config: `model: {backbone: {...}, head: [...]}` cuts a
// model plugin at a named stage, freezes it (or not), and puts a new head on
// top — the book's "cut here, replace the classifier".
#include <optional>
#include <string>
#include <vector>

#include "trex/registry/registry.h"

namespace trex {

struct HeadLayer {
  std::string type;        ///< global_avg_pool | global_max_pool | flatten | batch_norm | dense | dropout | activation
  std::int64_t units = 0;  ///< dense: 0 = the dataset's classes
  std::string activation = "none";  ///< dense / activation: none | relu | sigmoid | tanh | gelu
  double p = 0.5;                   ///< dropout
};

struct CompositeSpec {
  ResolvedPlugin backbone;  ///< the model plugin (with weights / strict)
  std::string cut;          ///< stage to cut after; empty: the stage before the classifier
  bool freeze_all = false;
  std::vector<std::string> freeze;  ///< module path prefixes to freeze, e.g. [conv1, bn1, layer1]
  bool bn_frozen = true;            ///< frozen parts keep their BatchNorm statistics
  /// auto: a backbone frozen whole, BatchNorm frozen, runs as an inference
  /// graph (model/inference_graph.h); off: always the eager modules
  bool inference_graph = true;
  std::int64_t classes = 1000;  ///< the backbone's own classifier size (dropped by the cut; must fit its weights)
  std::vector<HeadLayer> head;
};

/// Validates a composite model node, recording problems; fills `resolved`.
std::optional<CompositeSpec> resolve_composite(const Node& node, const Registry& registry, Diagnostics& diag,
                                               const Schema& host_keys, Node& resolved);

}  // namespace trex
