#pragma once
// What `trex plugins describe MODEL` shows beyond the descriptor: the model
// built for an input size, its parameter count and every cut point's output shape.
#include <string>

#include "trex/plugin/dataset.h"
#include "trex/registry/registry.h"

namespace trex {

/// Builds `model` (defaults, or its preset) for `input` and `classes`, and
/// lists "stage  [1, C, H, W]" per cut point, then the parameter count.
std::string model_summary(const Registry& registry, const std::string& name, const ImageShape& input,
                          std::int64_t classes);

}  // namespace trex
