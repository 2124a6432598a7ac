#pragma once
// Helpers for backbones laid out like torchvision's (an optional kit, not part
// of the plugin contract): a 1-channel batch seen as RGB, cut points inside a
// `features` Sequential, and the pooled classifier end of ImageNet CNNs.
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "trex/plugin/model.h"
#include "trex/plugin_kit/dropout.h"
#include "trex/plugin_kit/grad_format.h"

namespace trex {

/// channel_mode replicate: a 1-channel batch seen as RGB (no copy), for a
/// first conv that takes 3 channels; anything else passes through.
inline torch::Tensor replicate_to_rgb(const torch::Tensor& x, bool replicate) {
  return replicate && x.size(1) == 1 ? x.expand({-1, 3, -1, -1}) : x;
}

/// Named cut points inside a `features` Sequential: each name and the index of its last module.
using FeatureStages = std::vector<std::pair<std::string, std::int64_t>>;

/// Runs `features` on `x` up to the module that ends `stage` — a name of
/// `named`, or torchvision's "features.N" — and returns true there; false when
/// the stage lies past `features` (then `x` went through all of it).
inline bool forward_features_until(torch::nn::SequentialImpl& features, torch::Tensor& x, const std::string& stage,
                                   const FeatureStages& named) {
  std::int64_t stop = -1;
  if (stage.rfind("features.", 0) == 0) stop = std::stoll(stage.substr(9));
  for (const auto& [name, index] : named)
    if (name == stage) stop = index;
  std::int64_t i = 0;
  for (auto& m : features) {
    x = m.forward(x);
    if (i++ == stop) return true;
  }
  return false;
}

/// The end of torchvision's ImageNet CNNs: global average pooling (cut point
/// "avgpool"), flatten, dropout (p = 0: none) and the classifier (cut point
/// `classifier_stage`); any other stage is an error naming `model`.
inline torch::Tensor pooled_classifier(const torch::Tensor& x, const std::string& stage, const char* model,
                                       torch::nn::Linear& fc, double dropout, bool training,
                                       const std::string& classifier_stage = "fc") {
  torch::Tensor y = torch::adaptive_avg_pool2d(keep_grad_format(x), {1, 1});  // pooling hands back NCHW
  if (stage == "avgpool") return y;
  TORCH_CHECK(stage == classifier_stage, model, " has no stage '", stage, "'");
  y = y.flatten(1);
  return fc(dropout > 0 ? trex::dropout(y, dropout, training) : y);
}

}  // namespace trex
