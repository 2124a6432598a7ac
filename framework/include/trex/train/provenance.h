#pragma once
// What a run's record says about where it came from: the spec and its hash,
// versions, host and pid, the model's size, the data's sizes per set and class,
// how it was distributed and whether features were cached.
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "trex/config/spec.h"
#include "trex/model/experiment.h"
#include "trex/store/store.h"

namespace trex {

struct RunOptions;

/// A new run's record: a fresh id, this process, the resolved spec.
RunRecord new_run_record(const ResolvedSpec& spec, const Experiment& parts, const RunOptions& options);

/// The resolved spec's flat parameters plus the facts of this run.
std::vector<FlatParam> run_params(const ResolvedSpec& spec, const Experiment& parts, const torch::nn::Module& module,
                                  const std::string& feature_cache_used, int world);

/// Which BLAS LibTorch's matrix products use here; "reference" is ~20x slow.
std::string active_blas();

}  // namespace trex
