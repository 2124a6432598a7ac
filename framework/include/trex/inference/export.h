#pragma once
// Exporting a trained model for use outside trex: TorchScript through
// LibTorch's tracer (the route other non-Python front ends take), or a
// torchvision-style state dict (a plain dict of tensors, zip format).
#include <string>

#include "trex/inference/predict.h"

namespace trex {

/// Traces the run's model on an example batch of its input shape and saves a
/// TorchScript module that `torch::jit::load` and `torch.jit.load` read. Its
/// forward takes the batch after the run's eval preprocessing.
void export_torchscript(TrainedRun& run, const std::string& path);

/// Saves parameters and buffers under their module paths, as
/// `torch.save(dict(model.state_dict()), path)` would.
void export_state_dict(TrainedRun& run, const std::string& path);

/// The JSON that goes beside an export: input shape, channels, mean/std,
/// class names, eval preprocessing, source run and checkpoint.
std::string export_metadata(TrainedRun& run, const std::string& format);

}  // namespace trex
