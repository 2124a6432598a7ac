#pragma once
// Where and how the model computes — the device, the memory format and bf16
// autocast (on the CPU, or on the GPU in a CUDA build) — the same for
// training, evaluation and feature caching.
#include <string>

#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

namespace trex {

/// `x` (4-D) with exactly the strides of a channels-last tensor of its sizes:
/// itself when it has them, else a copy. Not `contiguous(ChannelsLast)`: a
/// tensor with one channel (a grayscale batch, the weight of a conv on one)
/// already counts as channels-last contiguous with NCHW strides, and oneDNN,
/// reading the strides, then runs that conv, and the BN and ReLU after it,
/// in NCHW, and the first block's residual sum on mixed layouts.
at::Tensor in_channels_last(const at::Tensor& x);

struct Precision {
  c10::Device device{c10::kCPU};
  bool channels_last = false;
  bool bf16 = false;  ///< autocast to bfloat16 on `device` (CPU or CUDA)
  /// fp32 3x3 convolutions of trex::Conv2d layers by Winograd (model/winograd.h), training included.
  bool winograd = false;

  /// `f` on `input`, moved to the device, in the memory format, under autocast when asked.
  template <typename F>
  at::Tensor run(const at::Tensor& input, F f) const {
    at::Tensor x = input.to(device);
    if (channels_last && x.dim() == 4) x = in_channels_last(x);
    set_autocast(bf16);
    at::Tensor y = f(x);
    set_autocast(false);
    if (bf16) at::autocast::clear_cache();
    return y;
  }
  /// Turns bf16 autocast on or off for this device type: the CPU's and CUDA's are separate switches.
  void set_autocast(bool on) const {
    if (device.is_cuda()) {
      at::autocast::set_enabled(on);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(on);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
  }
  /// "bf16 autocast, channels_last" and the like: what a run prints and records.
  std::string describe() const;
  /// Puts `module`'s 4-D parameters in the memory format (channels_last: NHWC;
  /// else NCHW), and hands its eligible trex::Conv2d layers to Winograd when
  /// `winograd` (and back to torch's conv2d when not).
  void apply_to(torch::nn::Module& module) const;
};

struct TrainOptions;

/// What train.precision (and the bf16 alias) ask for on train.device. On the
/// CPU (these /proc/cpuinfo flags) auto takes bf16 autocast only where bf16
/// runs natively (avx512_bf16 or amx_bf16; emulated, it was 10x slower than
/// fp32 on this pool's machines); on CUDA only where `gpu_bf16` (see
/// cuda_bf16_native); fp32 elsewhere. `why` says which. The memory format is
/// train.channels_last's, whatever the precision. Winograd where fp32 runs on
/// a CPU that has it and train.winograd allows it.
Precision choose_precision(const TrainOptions& t, const std::string& cpu_flags, std::string* why = nullptr,
                           bool gpu_bf16 = false);
/// True when LibTorch sees a CUDA device with native bf16 (compute capability
/// 8.0 or newer, as LibTorch's own cuDNN bf16 check); false on a CPU-only build.
bool cuda_bf16_native();
/// This CPU's flags line from /proc/cpuinfo ("" without one).
std::string cpu_flags();
/// True when `flag` is a whole word of a flags line.
bool has_flag(const std::string& flags, const std::string& flag);

}  // namespace trex
