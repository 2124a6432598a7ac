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
#include "trex/model/precision.h"

namespace trex {

struct RunOptions;

/// A new run's record: a fresh id, this process, the resolved spec.
RunRecord new_run_record(const ResolvedSpec& spec, const Experiment& parts, const RunOptions& options);

/// The resolved spec's flat parameters plus the facts of this run.
std::vector<FlatParam> run_params(const ResolvedSpec& spec, const Experiment& parts, const torch::nn::Module& module,
                                  const std::string& feature_cache_used, int world);

/// Which BLAS LibTorch's matrix products use here; "reference" is ~20x slow.
std::string active_blas();

/// The machine a run's numbers come from, as machine.* parameters (so
/// `trex compare` shows where runs differ): CPU model and the flags that
/// decide speed (avx2, avx512f, avx512_bf16, amx), cores, LibTorch's threads,
/// the BLAS loaded, the precision and memory format used, and the thread and
/// allocator environment (OMP_*, MKL_*, OPENBLAS_*, GLIBC_TUNABLES) when set.
std::vector<FlatParam> machine_params(const Precision& precision);

}  // namespace trex
