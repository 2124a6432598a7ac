#pragma once
// Test-time augmentation (train.tta): a batch's logits averaged over views of
// it — the image, shifted copies (up-left and down-right by `translate`
// pixels, reflect-padded, as the CIFAR speed runs do) and the left-right
// mirror of each. Validation, the test and `trex predict` use it alike.
#include <functional>

#include <ATen/ATen.h>

#include "trex/config/train_options.h"

namespace trex {

/// The views of a batch [N, C, H, W], the image first.
std::vector<at::Tensor> tta_views(const TtaOptions& tta, const at::Tensor& images);
/// Mean of `logits_of` over the views; `logits_of` alone when tta is off.
at::Tensor tta_logits(const TtaOptions& tta, const at::Tensor& images,
                      const std::function<at::Tensor(const at::Tensor&)>& logits_of);
/// How a run's record names it: "flip", "flip+translate2", "translate2", or "off".
std::string tta_name(const TtaOptions& tta);

}  // namespace trex
