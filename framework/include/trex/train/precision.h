#pragma once
// Where and how the model computes — the device, the memory format and bf16
// autocast on the CPU — the same for training, evaluation and feature caching.
#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

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
};

}  // namespace trex
