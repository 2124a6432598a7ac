#pragma once
// train.sync_bn: BatchNorm's batch statistics over every rank's examples
// (torch.nn.SyncBatchNorm), so a data-parallel run normalises exactly as one
// process with the global batch would. Forward allreduces per-channel sums,
// backward the sums of the output gradient terms.
#include <torch/nn/module.h>

#include "trex/dist/dist.h"

namespace trex {

/// Makes every trex::BatchNorm2d under `module` synchronise over `c`; returns
/// how many. A torch::nn BatchNorm layer (a plugin not built on
/// trex/plugin_kit/batch_norm.h) cannot be, and is an error naming it.
std::size_t enable_sync_batch_norm(torch::nn::Module& module, Collective& c);

}  // namespace trex
