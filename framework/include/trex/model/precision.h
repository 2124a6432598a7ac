#pragma once
// Where and how the model computes — the device, the memory format and bf16
// autocast on the CPU — the same for training, evaluation and feature caching.
#include <string>

#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

namespace trex {

struct Precision {
  c10::Device device{c10::kCPU};
  bool channels_last = false;
  bool bf16 = false;  ///< CPU autocast to bfloat16

  /// `f` on `input`, moved to the device, in the memory format, under autocast when asked.
  template <typename F>
  at::Tensor run(const at::Tensor& input, F f) const {
    at::Tensor x = input.to(device);
    if (channels_last && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    at::autocast::set_cpu_enabled(bf16);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::Tensor y = f(x);
    at::autocast::set_cpu_enabled(false);
    if (bf16) at::autocast::clear_cache();
    return y;
  }
  /// "bf16 autocast, channels_last" and the like: what a run prints and records.
  std::string describe() const;
  /// Puts `module`'s 4-D parameters in the memory format (channels_last: NHWC; else NCHW).
  void apply_to(torch::nn::Module& module) const;
};

struct TrainOptions;

/// What train.precision (and the bf16 alias) ask for on a CPU with these
/// /proc/cpuinfo flags: auto takes bf16 autocast only where bf16 runs natively
/// (avx512_bf16 or amx_bf16; emulated, it was 10x slower than fp32 on this
/// pool's machines) and fp32 elsewhere. `why` says which. The memory format
/// is train.channels_last's, whatever the precision.
Precision choose_precision(const TrainOptions& t, const std::string& cpu_flags, std::string* why = nullptr);
/// This CPU's flags line from /proc/cpuinfo ("" without one).
std::string cpu_flags();
/// True when `flag` is a whole word of a flags line.
bool has_flag(const std::string& flags, const std::string& flag);

}  // namespace trex
