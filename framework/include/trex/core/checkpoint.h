#pragma once
// Checkpoints: LibTorch zip archives holding the model's parameters and
// buffers (keys = module paths), the optimizer state and the trainer's
// counters. Written to a temp file, synced and renamed, so a kill at any
// moment leaves the previous checkpoint intact.
#include <string>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace trex {

struct TrainerState {
  std::int64_t epoch = -1;          ///< last completed epoch (0-based); -1: none
  double best_value = 0;            ///< checkpoint monitor's best so far
  std::int64_t best_epoch = -1;
  double stop_best = 0;             ///< early stopping's best so far
  std::int64_t bad_epochs = 0;      ///< epochs without improvement
};

void save_checkpoint(const std::string& path, torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainerState& state);
/// Loads into `model` (and `optimizer` and `state` when given).
void load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     TrainerState* state);

/// Hex FNV-1a of a file's bytes, for artifact records.
std::string file_checksum(const std::string& path);

}  // namespace trex
