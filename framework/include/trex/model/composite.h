#pragma once
// The composite model a `model: {backbone: ..., head: [...]}` spec builds: the
// backbone plugin cut at its stage, frozen as asked, with a new head.
#include <memory>

#include "trex/config/composite_spec.h"

namespace trex {

class Model;
struct ImageShape;

/// Wraps a built backbone: cut, freeze, new head for `classes` outputs.
std::shared_ptr<Model> make_composite(std::shared_ptr<Model> backbone, const CompositeSpec& spec,
                                      const ImageShape& input, std::int64_t classes);

}  // namespace trex
