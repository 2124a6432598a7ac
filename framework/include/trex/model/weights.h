#pragma once
// Loading torchvision-format state dicts (`torch.save(dict(model.state_dict()), f)`,
// zip format) into a model whose module paths mirror torchvision's.
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace trex {

struct WeightsReport {
  std::vector<std::string> loaded, missing, unexpected, mismatched, skipped, adapted;
  /// Keys of modules the model left out (a backbone built only up to its cut): never read.
  std::vector<std::string> unused;
  std::string summary() const;
};

/// Reads every matching tensor of `path` into `module` (entries that do not
/// match are never read; see StateDictArchive). Keys of auxiliary
/// classifiers (AuxLogits., aux1., aux2.) are skipped and listed. A 3-channel
/// first conv loads into a 1-channel one by summing over input channels. With
/// `strict`, any missing, unexpected or shape-mismatched key is an error that
/// names them; without, they are left at their initial values and reported.
/// Keys under a module path of `left_out` (Model::left_out) are unused, not unexpected.
WeightsReport load_state_dict_file(torch::nn::Module& module, const std::string& path, bool strict,
                                   const std::vector<std::string>& left_out = {});
/// The same from the file's bytes; `path` names it in errors.
WeightsReport load_state_dict(torch::nn::Module& module, const std::vector<char>& bytes, const std::string& path,
                              bool strict, const std::vector<std::string>& left_out = {});

}  // namespace trex
