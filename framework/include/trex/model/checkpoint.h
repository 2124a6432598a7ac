#pragma once
// Checkpoints: LibTorch zip archives holding the model's parameters and
// buffers (keys = module paths), the optimizer state and the trainer's
// counters. Written to a temp file, synced and renamed, so a kill at any
// moment leaves the previous checkpoint intact.
#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "trex/common/hash.h"

namespace trex {

struct TrainerState {
  std::int64_t epoch = -1;  ///< last completed epoch (0-based); -1: none
  double best_value = 0;    ///< checkpoint monitor's best so far
  std::int64_t best_epoch = -1;
  double stop_best = 0;         ///< early stopping's best so far
  std::int64_t bad_epochs = 0;  ///< epochs without improvement
};

/// Where a checkpoint's frozen tensors come from instead of the checkpoint
/// itself, so a sweep of 30 heads on a frozen VGG16 does not write 30 copies of
/// its 528 MB: the file, its checksum when the run loaded it, and the tensors
/// it supplies unchanged.
struct WeightsRef {
  std::string kind;               ///< state_dict (a torchvision-format file) | checkpoint (a trex checkpoint)
  std::string path;               ///< absolute
  std::string checksum;           ///< file_checksum(path)
  bool strict = true;             ///< state_dict: load as the run did
  std::string module;             ///< the child module it loads into, e.g. "backbone"
  std::vector<std::string> keys;  ///< names under `module` whose values come from the file unchanged
};

/// Named tensors a checkpoint keeps beside the model (a weight EMA's other copy).
using TensorMap = std::map<std::string, at::Tensor>;

/// With `ref`, the tensors it names are left out and `ref` is written instead;
/// `extra` is kept beside the model and read back by load_checkpoint's `extra`.
void save_checkpoint(const std::string& path, torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainerState& state, const WeightsRef* ref = nullptr, const TensorMap* extra = nullptr);
/// Loads into `model` (and `optimizer` and `state` when given). A checkpoint
/// that references weights loads them from the referenced file, after
/// checking that its checksum is still the recorded one — unless `in_place`
/// says the model already holds them: the same file, the same checksum (a
/// changed file has another), and every referenced tensor among those that
/// have not changed since (a run's test phase, a resume).
void load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     TrainerState* state, const WeightsRef* in_place = nullptr, TensorMap* extra = nullptr);
/// The same from a checkpoint's bytes; `label` names it in errors.
void load_checkpoint_bytes(const char* data, std::size_t size, const std::string& label, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer = nullptr, TrainerState* state = nullptr);

}  // namespace trex
