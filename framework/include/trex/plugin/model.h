#pragma once
// Model plugins return a LibTorch module, so the host can freeze, group
// parameters, save, load and broadcast it, and expose named stages, so the host
// can cut the network there or record activations.
#include <torch/nn/module.h>

#include "trex/plugin/descriptor.h"

namespace trex {

class Model : public Plugin {
 public:
  static constexpr Kind kKind = Kind::Model;  ///< what Registry::create_as checks
  /// The module that owns every parameter and buffer of the network.
  virtual std::shared_ptr<torch::nn::Module> module() = 0;
  /// Logits [batch, classes] for an input [batch, C, H, W].
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  /// Named stages in forward order; the last is the classifier.
  virtual std::vector<std::string> stages() const = 0;
  /// Output of the network after `stage` (a cut point).
  virtual torch::Tensor forward_until(const torch::Tensor& x, const std::string& stage) = 0;
  /// A regularisation term added to the loss (e.g. a Keras-style L2 on one
  /// layer); undefined when there is none.
  virtual torch::Tensor regularization() { return {}; }
  /// Module paths ("classifier", "features.17") not built because they lie
  /// past BuildContext::cut: a weights file's keys under them are not read.
  virtual std::vector<std::string> left_out() const { return {}; }
};

}  // namespace trex
