#include "trex/core/checkpoint.h"

#include "trex/core/fault.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <torch/serialize/archive.h>

namespace trex {
namespace {

void sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

at::Tensor scalar(double v) { return at::scalar_tensor(v, at::kDouble); }

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainerState& state) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  archive.write("epoch", scalar(static_cast<double>(state.epoch)));
  archive.write("best_value", scalar(state.best_value));
  archive.write("best_epoch", scalar(static_cast<double>(state.best_epoch)));
  archive.write("stop_best", scalar(state.stop_best));
  archive.write("bad_epochs", scalar(static_cast<double>(state.bad_epochs)));
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  fault_point("checkpoint", state.epoch + 1);
  sync_file(tmp);
  std::filesystem::rename(tmp, path);
  sync_file(std::filesystem::path(path).parent_path().string());
}

void load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     TrainerState* state) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("checkpoint '" + path + "' does not exist");
  torch::serialize::InputArchive archive, model_archive;
  try {
    archive.load_from(path);
    archive.read("model", model_archive);
    model.load(model_archive);
    if (optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      if (archive.try_read("optimizer", optimizer_archive)) optimizer->load(optimizer_archive);
    }
    if (state) {
      at::Tensor t;
      auto get = [&](const char* key) {
        archive.read(key, t);
        return t.item<double>();
      };
      state->epoch = static_cast<std::int64_t>(get("epoch"));
      state->best_value = get("best_value");
      state->best_epoch = static_cast<std::int64_t>(get("best_epoch"));
      state->stop_best = get("stop_best");
      state->bad_epochs = static_cast<std::int64_t>(get("bad_epochs"));
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error("checkpoint '" + path + "' cannot be read: " + e.msg());
  }
}

std::string file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t h = 1469598103934665603ULL;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ULL;
    if (!in) break;
  }
  char out[24];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace trex
