#pragma once
// mixup and cutmix on a batch (as timm's Mixup, pairing each image with the
// batch reversed). Pure: the same RNG state gives the same batch.
#include <ATen/core/Tensor.h>

#include "trex/config/train_options.h"
#include "trex/plugin/augmentation.h"

namespace trex {

struct MixedBatch {
  at::Tensor images;
  at::Tensor targets_a, targets_b;  ///< the loss is lambda * CE(a) + (1 - lambda) * CE(b)
  double lambda = 1.0;              ///< 1: not mixed
  std::string kind = "none";        ///< none | mixup | cutmix
};

MixedBatch mix_batch(const at::Tensor& images, const at::Tensor& targets, const MixOptions& options, Rng& rng);

}  // namespace trex
