#include "trex/model/weights.h"

#include "trex/model/ordered_dict_pickle.h"
#include "trex/model/pickle_check.h"
#include "trex/model/script_archive.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <torch/serialize.h>
#include <torch/utils.h>

namespace trex {
namespace {

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

bool auxiliary(const std::string& key) {
  return key.rfind("AuxLogits.", 0) == 0 || key.rfind("aux1.", 0) == 0 || key.rfind("aux2.", 0) == 0;
}

}  // namespace

std::string WeightsReport::summary() const {
  std::string out = std::to_string(loaded.size()) + " tensors loaded";
  if (!adapted.empty()) out += "; adapted to the input channels: " + list(adapted);
  if (!skipped.empty()) out += "; skipped auxiliary-classifier keys: " + std::to_string(skipped.size());
  if (!missing.empty()) out += "; missing: " + list(missing);
  if (!unexpected.empty()) out += "; unexpected: " + list(unexpected);
  if (!mismatched.empty()) out += "; shape mismatch: " + list(mismatched);
  return out;
}

WeightsReport load_state_dict_file(torch::nn::Module& module, const std::string& path, bool strict) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("weights file '" + path + "' not found");
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return load_state_dict(module, bytes, path, strict);
}

namespace {

/// The file's {name: tensor} dict, every opcode and tensor checked first.
std::map<std::string, at::Tensor> read_state_dict(const std::vector<char>& bytes, const std::string& path) {
  c10::IValue value;
  try {
    // Our walker checks every opcode and length before LibTorch's unpickler reads them.
    check_archive_pickle(bytes);
    try {
      value = torch::pickle_load(bytes);
    } catch (const std::exception&) {
      // PyTorch's default torch.save(model.state_dict()) pickles an OrderedDict.
      value = torch::pickle_load(archive_without_ordered_dict(bytes));
    }
    if (value.isNone()) value = torch::pickle_load(archive_without_ordered_dict(bytes));
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw std::runtime_error(
        "weights file '" + path + "' is not a state dict trex can read (" + what +
        "); save it with torch.save(dict(model.state_dict()), path) in the zip format, or convert it "
        "with tools/export_torchvision_weights.py --resave " +
        path);
  }
  check_tensors(value, path);
  if (!value.isGenericDict())
    throw std::runtime_error("weights file '" + path + "' holds a " + value.tagKind() + ", not a dict of tensors");
  std::map<std::string, at::Tensor> source;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor())
      throw std::runtime_error("weights file '" + path + "': every entry must map a name to a tensor");
    source[kv.key().toStringRef()] = kv.value().toTensor();
  }
  return source;
}

}  // namespace

WeightsReport load_state_dict(torch::nn::Module& module, const std::vector<char>& bytes, const std::string& path,
                              bool strict) {
  const std::map<std::string, at::Tensor> source = read_state_dict(bytes, path);
  std::map<std::string, at::Tensor> target;
  for (const auto& p : module.named_parameters()) target[p.key()] = p.value();
  for (const auto& b : module.named_buffers()) target[b.key()] = b.value();
  WeightsReport r;
  torch::NoGradGuard no_grad;
  for (const auto& [key, tensor] : source) {
    if (auxiliary(key)) {
      r.skipped.push_back(key);
      continue;
    }
    auto it = target.find(key);
    if (it == target.end()) {
      r.unexpected.push_back(key);
      continue;
    }
    at::Tensor src = tensor;
    if (src.dim() == 4 && it->second.dim() == 4 && src.size(1) == 3 && it->second.size(1) == 1 &&
        src.size(0) == it->second.size(0) && src.size(2) == it->second.size(2) && src.size(3) == it->second.size(3)) {
      src = src.sum(1, /*keepdim=*/true);  // timm's adapt_input_conv for 1-channel inputs
      r.adapted.push_back(key);
    }
    if (src.sizes() != it->second.sizes()) {
      r.mismatched.push_back(key);
      continue;
    }
    it->second.copy_(src);
    r.loaded.push_back(key);
  }
  for (const auto& [key, tensor] : target)
    if (!source.count(key)) r.missing.push_back(key);
  if (strict && (!r.missing.empty() || !r.unexpected.empty() || !r.mismatched.empty()))
    throw std::runtime_error("weights file '" + path + "' does not fit the model: " + r.summary() +
                             " (strict: false loads what fits, e.g. a backbone with another head)");
  return r;
}

}  // namespace trex
