#include "trex/model/precision.h"

#include <fstream>
#include <sstream>

#include "trex/config/train_options.h"

namespace trex {
bool has_flag(const std::string& flags, const std::string& flag) {
  std::istringstream words(flags);
  for (std::string w; words >> w;)
    if (w == flag) return true;
  return false;
}

std::string Precision::describe() const {
  return std::string(bf16 ? "bf16 autocast" : "fp32") + (channels_last ? ", channels_last" : "") +
         (device.is_cpu() ? "" : " on " + device.str());
}

std::string cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 1);
  return "";
}

void Precision::apply_to(torch::nn::Module& module) const {
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  for (auto& p : module.parameters())
    if (p.dim() == 4 && !p.is_contiguous(format)) p.set_data(p.data().contiguous(format));
}

Precision choose_precision(const TrainOptions& t, const std::string& flags, std::string* why) {
  Precision p{c10::Device(c10::kCPU), t.channels_last, t.bf16 || t.precision == "bf16"};
  const bool native = has_flag(flags, "avx512_bf16") || has_flag(flags, "amx_bf16");
  if (why) *why = t.bf16 || t.precision == "bf16" ? "asked for" : "train.precision: fp32";
  if (t.precision == "auto" && !t.bf16) {
    p.bf16 = native;
    if (why)
      *why = native ? "auto: this CPU runs bf16 natively (avx512_bf16 or amx_bf16)"
                    : "auto: this CPU has no native bf16 (no avx512_bf16 or amx_bf16), so fp32";
  }
  return p;
}

}  // namespace trex
