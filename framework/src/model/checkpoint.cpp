#include "trex/model/checkpoint.h"

#include "trex/common/fault.h"
#include "trex/common/file_checksums.h"
#include "trex/model/script_archive.h"
#include "trex/model/weights.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <caffe2/serialize/inline_container.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

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

/// Every parameter and buffer of `model` by its full dotted name.
std::vector<std::pair<std::string, at::Tensor>> named_tensors(torch::nn::Module& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : model.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void write_ref(torch::serialize::OutputArchive& archive, const WeightsRef& ref) {
  c10::Dict<std::string, std::string> meta;
  meta.insert("kind", ref.kind);
  meta.insert("path", ref.path);
  meta.insert("checksum", ref.checksum);
  meta.insert("strict", ref.strict ? "1" : "0");
  meta.insert("module", ref.module);
  archive.write("weights_ref", c10::IValue(meta));
  archive.write("weights_ref_keys", c10::IValue(c10::List<std::string>(ref.keys)));
}

WeightsRef read_ref(torch::serialize::InputArchive& archive, const c10::IValue& meta_value, const std::string& path) {
  WeightsRef ref;
  auto meta = meta_value.toGenericDict();
  auto get = [&](const char* key) {
    const auto it = meta.find(key);
    if (it == meta.end() || !it->value().isString())
      throw std::runtime_error("checkpoint '" + path + "': its weights_ref has no text '" + key + "'");
    return it->value().toStringRef();
  };
  ref.kind = get("kind");
  ref.path = get("path");
  ref.checksum = get("checksum");
  ref.strict = get("strict") == "1";
  ref.module = get("module");
  c10::IValue keys;
  archive.read("weights_ref_keys", keys);
  if (!keys.isList()) throw std::runtime_error("checkpoint '" + path + "': weights_ref_keys is not a list");
  for (const auto& k : keys.toListRef()) {
    if (!k.isString()) throw std::runtime_error("checkpoint '" + path + "': weights_ref_keys holds a non-text entry");
    ref.keys.push_back(k.toStringRef());
  }
  return ref;
}

/// True when the model already holds what `ref` would load (load_checkpoint's `in_place`).
bool already_loaded(const WeightsRef& ref, const WeightsRef* in_place) {
  if (!in_place || in_place->kind != ref.kind || in_place->path != ref.path || in_place->module != ref.module ||
      in_place->checksum.empty() || in_place->checksum != ref.checksum)
    return false;
  const std::set<std::string> held(in_place->keys.begin(), in_place->keys.end());
  return std::all_of(ref.keys.begin(), ref.keys.end(), [&](const std::string& k) { return held.count(k) > 0; });
}

/// Loads a referenced weights file into `model`'s child, refusing a file that changed.
void load_ref(const std::string& checkpoint, torch::nn::Module& model, const WeightsRef& ref) {
  const std::string from = "checkpoint '" + checkpoint + "' keeps only the trained tensors; its frozen " + ref.module +
                           " comes from '" + ref.path + "' (" + ref.checksum + ")";
  if (!std::filesystem::exists(ref.path)) throw std::runtime_error(from + ", which is missing: restore that file");
  if (remembered_file_checksum(ref.path) != ref.checksum)
    throw std::runtime_error(from + ", which has changed since: restore the original file (its checksum must match)");
  std::shared_ptr<torch::nn::Module> child;
  for (const auto& c : model.named_children())
    if (c.key() == ref.module) child = c.value();
  if (!child) throw std::runtime_error(from + ", but the model it is loaded into has no '" + ref.module + "'");
  if (ref.kind == "checkpoint") {
    load_checkpoint(ref.path, *child, nullptr, nullptr);
    return;
  }
  // What the checkpoint needs from the file is its list of keys; the rest of
  // the file (say, a classifier past the cut) is not read.
  const WeightsReport r = load_state_dict_file(*child, ref.path, /*strict=*/false);
  const std::set<std::string> loaded(r.loaded.begin(), r.loaded.end());
  for (const auto& key : ref.keys)
    if (!loaded.count(key)) throw std::runtime_error(from + ", which no longer supplies '" + key + "'");
}

}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainerState& state, const WeightsRef* ref, const TensorMap* extra) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  if (ref) {
    std::set<std::string> referenced;
    for (const auto& k : ref->keys) referenced.insert(ref->module + "." + k);
    c10::Dict<std::string, at::Tensor> own;
    for (const auto& [name, tensor] : named_tensors(model))
      if (!referenced.count(name)) own.insert(name, tensor);
    archive.write("model_tensors", c10::IValue(own));
    write_ref(archive, *ref);
  } else {
    model.save(model_archive);
    archive.write("model", model_archive);
  }
  if (optimizer) {
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  archive.write("epoch", scalar(static_cast<double>(state.epoch)));
  archive.write("best_value", scalar(state.best_value));
  archive.write("best_epoch", scalar(static_cast<double>(state.best_epoch)));
  archive.write("stop_best", scalar(state.stop_best));
  archive.write("bad_epochs", scalar(static_cast<double>(state.bad_epochs)));
  if (extra) {
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& [name, tensor] : *extra) dict.insert(name, tensor);
    archive.write("extra_tensors", c10::IValue(dict));
  }
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  fault_point("checkpoint", state.epoch + 1);
  sync_file(tmp);
  std::filesystem::rename(tmp, path);
  sync_file(std::filesystem::path(path).parent_path().string());
}

namespace {

/// The tensors a checkpoint keeps beside the model (save_checkpoint's `extra`); none when it has none.
void read_extra(torch::serialize::InputArchive& archive, const std::string& path, TensorMap& extra) {
  extra.clear();
  c10::IValue value;
  if (!archive.try_read("extra_tensors", value)) return;
  if (!value.isGenericDict()) throw std::runtime_error("checkpoint '" + path + "': extra_tensors is not a dict");
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor())
      throw std::runtime_error("checkpoint '" + path + "': extra_tensors holds an entry that is not a named tensor");
    extra[kv.key().toStringRef()] = kv.value().toTensor();
  }
}

/// Reads a loaded archive into the model (and optimizer and state); `path` names it in errors.
void read_checkpoint(torch::serialize::InputArchive& archive, const std::string& path, torch::nn::Module& model,
                     torch::optim::Optimizer* optimizer, TrainerState* state, const WeightsRef* in_place,
                     TensorMap* extra) {
  for (const auto& key : archive.keys()) {  // every tensor inside its stored data before any is used
    c10::IValue value;
    if (archive.try_read(key, value)) check_tensors(value, path);
  }
  torch::serialize::InputArchive model_archive;
  c10::IValue meta;
  if (archive.try_read("weights_ref", meta)) {
    if (!meta.isGenericDict()) throw std::runtime_error("checkpoint '" + path + "': weights_ref is not a dict");
    const WeightsRef ref = read_ref(archive, meta, path);
    if (!already_loaded(ref, in_place)) load_ref(path, model, ref);
    std::set<std::string> referenced;
    for (const auto& k : ref.keys) referenced.insert(ref.module + "." + k);
    c10::IValue own_value;
    archive.read("model_tensors", own_value);
    if (!own_value.isGenericDict()) throw std::runtime_error("checkpoint '" + path + "': model_tensors is not a dict");
    const auto own = own_value.toGenericDict();
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : named_tensors(model)) {
      if (referenced.count(name)) continue;
      auto it = own.find(name);
      if (it == own.end())
        throw std::runtime_error("checkpoint '" + path + "' has no tensor '" + name + "' of this model");
      if (!it->value().isTensor())
        throw std::runtime_error("checkpoint '" + path + "': '" + name + "' is not a tensor");
      const at::Tensor saved = it->value().toTensor();
      if (saved.sizes() != tensor.sizes())
        throw std::runtime_error("checkpoint '" + path + "': tensor '" + name + "' has another shape than the model's");
      tensor.copy_(saved);
    }
  } else {
    archive.read("model", model_archive);
    model.load(model_archive);
  }
  if (optimizer) {
    torch::serialize::InputArchive optimizer_archive;
    if (archive.try_read("optimizer", optimizer_archive)) optimizer->load(optimizer_archive);
  }
  if (state) {
    at::Tensor t;
    auto get = [&](const char* key) {
      archive.read(key, t);
      if (t.numel() != 1) throw std::runtime_error("checkpoint '" + path + "': '" + key + "' is not one number");
      return t.item<double>();
    };
    state->epoch = static_cast<std::int64_t>(get("epoch"));
    state->best_value = get("best_value");
    state->best_epoch = static_cast<std::int64_t>(get("best_epoch"));
    state->stop_best = get("stop_best");
    state->bad_epochs = static_cast<std::int64_t>(get("bad_epochs"));
  }
  if (extra) read_extra(archive, path, *extra);
}

}  // namespace

void load_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     TrainerState* state, const WeightsRef* in_place, TensorMap* extra) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("checkpoint '" + path + "' does not exist");
  torch::serialize::InputArchive archive;
  try {
    {
      caffe2::serialize::PyTorchStreamReader reader(path);
      check_script_archive(reader, path);
    }
    archive.load_from(path);
    read_checkpoint(archive, path, model, optimizer, state, in_place, extra);
  } catch (const c10::Error& e) {
    throw std::runtime_error("checkpoint '" + path + "' cannot be read: " + e.msg());
  }
}

void load_checkpoint_bytes(const char* data, std::size_t size, const std::string& label, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer, TrainerState* state) {
  torch::serialize::InputArchive archive;
  try {
    {
      std::istringstream in(std::string(data, size));
      caffe2::serialize::PyTorchStreamReader reader(&in);
      check_script_archive(reader, label);
    }
    archive.load_from(data, size);
    read_checkpoint(archive, label, model, optimizer, state, nullptr, nullptr);
  } catch (const c10::Error& e) {
    throw std::runtime_error("checkpoint '" + label + "' cannot be read: " + e.msg());
  }
}

}  // namespace trex
