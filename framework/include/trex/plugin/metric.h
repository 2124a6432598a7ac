#pragma once
// Metrics share flashlight's meter shape: reset(), add(), value().
#include <ATen/core/Tensor.h>

#include "trex/plugin/descriptor.h"

namespace trex {

struct MetricBatch {
  at::Tensor logits;    ///< [batch, classes], float
  at::Tensor targets;   ///< [batch], int64
  double loss_sum = 0;  ///< sum of per-example loss over the batch
};

class Metric : public Plugin {
 public:
  static constexpr Kind kKind = Kind::Metric;  ///< what Registry::create_as checks
  virtual void reset() = 0;
  virtual void add(const MetricBatch& batch) = 0;
  virtual double value() const = 0;
};

}  // namespace trex
