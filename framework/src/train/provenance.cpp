#include "trex/train/provenance.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <ATen/Parallel.h>

#include <opencv2/core/version.hpp>
#include <torch/version.h>

#include "trex/train/trainer.h"

namespace trex {
namespace {

/// The commit of the git checkout the run was started in, if any.
std::string git_commit() {
  FILE* p = popen("git rev-parse HEAD 2>/dev/null", "r");
  if (!p) return "";
  char buf[64] = {0};
  std::string out = fgets(buf, sizeof buf, p) ? buf : "";
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

RunRecord new_run_record(const ResolvedSpec& spec, const Experiment& parts, const RunOptions& options) {
  RunRecord r;
  r.id = Store::new_run_id();
  r.name = r.experiment = spec.name;
  r.start_time = now_seconds();
  r.host = host_name();
  r.pid = getpid();
  r.seed = static_cast<std::int64_t>(spec.seed);
  r.trex_version = TREX_VERSION;
  r.torch_version = TORCH_VERSION;
  r.opencv_version = CV_VERSION;
  r.git_commit = git_commit();
  r.spec_yaml = spec.yaml();
  r.spec_hash = text_hash(r.spec_yaml);
  r.class_names = parts.class_names;
  r.main_metric = spec.train.checkpoint.monitor;
  r.sweep_id = options.sweep_id;
  r.trial = options.trial;
  return r;
}

std::vector<FlatParam> run_params(const ResolvedSpec& spec, const Experiment& parts, const torch::nn::Module& module,
                                  const std::string& feature_cache_used, int world) {
  auto params = spec.flat();
  std::int64_t total = 0, trainable = 0;
  for (const auto& p : module.parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  params.push_back({"model.params.total", std::to_string(total), "int"});
  params.push_back({"model.params.trainable", std::to_string(trainable), "int"});
  params.push_back({"data.skipped_images", std::to_string(parts.dataset->skipped_images()), "int"});
  params.push_back({"train.feature_cache_used", feature_cache_used, "string"});
  params.push_back({"dist.world_size", std::to_string(world), "int"});
  params.push_back({"dist.backend", world > 1 ? "gloo" : "none", "string"});
  for (const char* set : {"train", "val", "test"}) {
    params.push_back({std::string("data.sizes.") + set, std::to_string(parts.plan.get(set).size()), "int"});
    auto counts = parts.plan.class_counts(set, parts.class_names.size());
    for (std::size_t c = 0; c < counts.size(); ++c)
      params.push_back(
          {std::string("data.class_sizes.") + set + "." + std::to_string(c), std::to_string(counts[c]), "int"});
  }
  return params;
}

namespace {

/// /proc/cpuinfo's "model name".
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find_first_not_of(' ', line.find(':') + 1));
  return "unknown";
}

/// The flags of this CPU that decide speed (cpu_flags() lists them all).
std::string speed_flags() {
  const std::string all = cpu_flags();
  std::string out;
  for (const char* f : {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"})
    if (has_flag(all, f)) out += (out.empty() ? "" : " ") + std::string(f);
  return out.empty() ? "none of avx2, avx512, amx" : out;
}

}  // namespace

std::vector<FlatParam> machine_params(const Precision& precision) {
  std::vector<FlatParam> out = {
      {"machine.cpu", cpu_model(), "string"},
      {"machine.cpu_flags", speed_flags(), "string"},
      {"machine.cores", std::to_string(std::thread::hardware_concurrency()), "int"},
      {"machine.threads", std::to_string(at::get_num_threads()), "int"},
      {"machine.blas", active_blas(), "string"},
      {"machine.torch", TORCH_VERSION, "string"},
      {"machine.device", precision.device.str(), "string"},
      {"machine.precision", precision.bf16 ? "bf16 autocast" : "fp32", "string"},
      {"machine.memory_format", precision.channels_last ? "channels_last" : "contiguous", "string"},
      {"machine.conv_algorithm", precision.winograd ? "winograd 3x3 (oneDNN)" : "torch", "string"}};
  for (const char* var : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                          "OPENBLAS_L2_SIZE", "GLIBC_TUNABLES"})
    if (const char* v = std::getenv(var)) out.push_back({std::string("machine.env.") + var, v, "string"});
  return out;
}

std::string active_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libopenblas") != std::string::npos || line.find("openblas") != std::string::npos) return "openblas";
    if (line.find("libblis") != std::string::npos) return "blis";
    if (line.find("libmkl") != std::string::npos) return "mkl";
    if (line.find("/blas/libblas.so") != std::string::npos) return "reference";
  }
  return "unknown";
}

}  // namespace trex
