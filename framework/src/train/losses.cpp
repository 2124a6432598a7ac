#include "trex/train/losses.h"

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace trex {

Loss::Loss(const LossOptions& o, const SplitPlan& plan, std::size_t classes, const c10::Device& device)
    : label_smoothing_(o.label_smoothing) {
  if (o.class_weights == "balanced") {
    auto counts = plan.class_counts("train", classes);
    std::vector<float> w;
    for (auto c : counts)
      w.push_back(c ? static_cast<float>(plan.train.size()) /
                          static_cast<float>(counts.size() * static_cast<std::size_t>(c))
                    : 0.f);
    class_weights_ = torch::tensor(w).to(device);
  } else if (o.class_weights == "list") {
    if (o.weights.size() != classes)
      throw std::runtime_error("train.loss.class_weights has " + std::to_string(o.weights.size()) +
                               " values but the dataset has " + std::to_string(classes) + " classes");
    class_weights_ = torch::tensor(std::vector<float>(o.weights.begin(), o.weights.end())).to(device);
  }
}

at::Tensor Loss::per_example(const at::Tensor& logits, const at::Tensor& targets) const {
  namespace F = torch::nn::functional;
  auto opts = F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing_);
  if (class_weights_.defined()) opts.weight(class_weights_);
  return F::cross_entropy(logits, targets, opts);
}

at::Tensor Loss::mixed(const at::Tensor& logits, const MixedBatch& m) const {
  if (m.lambda >= 1.0) return per_example(logits, m.targets_a);
  return per_example(logits, m.targets_a) * m.lambda + per_example(logits, m.targets_b) * (1 - m.lambda);
}

}  // namespace trex
