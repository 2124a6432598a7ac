#include "trex/model/precision.h"

#include <fstream>
#include <sstream>

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/MemoryFormat.h>
#include <torch/cuda.h>

#include "trex/config/train_options.h"
#include "trex/model/winograd.h"
#include "trex/plugin_kit/conv.h"

namespace trex {
bool has_flag(const std::string& flags, const std::string& flag) {
  std::istringstream words(flags);
  for (std::string w; words >> w;)
    if (w == flag) return true;
  return false;
}

std::string Precision::describe() const {
  return std::string(bf16 ? "bf16 autocast" : "fp32") + (channels_last ? ", channels_last" : "") +
         (winograd ? ", Winograd 3x3" : "") + (device.is_cpu() ? "" : " on " + device.str());
}

std::string cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 1);
  return "";
}

at::Tensor in_channels_last(const at::Tensor& x) {
  if (x.strides() == c10::IntArrayRef(c10::get_channels_last_strides_2d(x.sizes()))) return x;
  return at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(x);
}

void Precision::apply_to(torch::nn::Module& module) const {
  for (auto& p : module.parameters()) {
    if (p.dim() != 4) continue;
    if (channels_last)
      p.set_data(in_channels_last(p.data()));
    else if (!p.is_contiguous())
      p.set_data(p.data().contiguous());
  }
  for (const auto& m : module.modules())
    if (auto* conv = dynamic_cast<SwappableConv*>(m.get()))
      conv->kernel = winograd && winograd_fits(conv->conv_options()) ? ConvKernel(winograd_conv2d_train) : nullptr;
}

bool cuda_bf16_native() {
  return torch::cuda::is_available() && at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
}

Precision choose_precision(const TrainOptions& t, const std::string& flags, std::string* why, bool gpu_bf16) {
  const bool gpu = t.device == "cuda";
  Precision p{c10::Device(gpu ? c10::kCUDA : c10::kCPU), t.channels_last, t.bf16 || t.precision == "bf16"};
  if (why) *why = t.bf16 || t.precision == "bf16" ? "asked for" : "train.precision: fp32";
  p.winograd = !p.bf16 && !gpu && t.winograd && winograd_available();
  if (t.precision != "auto" || t.bf16) return p;
  if (gpu) {
    p.bf16 = gpu_bf16;
    if (why)
      *why = gpu_bf16 ? "auto: this GPU runs bf16 natively (compute capability 8.0 or newer)"
                      : "auto: this GPU has no native bf16 (compute capability below 8.0), so fp32";
    return p;
  }
  p.bf16 = has_flag(flags, "avx512_bf16") || has_flag(flags, "amx_bf16");
  p.winograd = p.winograd && !p.bf16;
  if (why)
    *why = p.bf16 ? "auto: this CPU runs bf16 natively (avx512_bf16 or amx_bf16)"
                  : "auto: this CPU has no native bf16 (no avx512_bf16 or amx_bf16), so fp32";
  return p;
}

}  // namespace trex
