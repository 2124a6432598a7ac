#include "trex/model/weights.h"

#include "trex/model/state_dict_archive.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <type_traits>

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
  if (!unused.empty()) out += "; not read (past the cut): " + std::to_string(unused.size());
  if (!missing.empty()) out += "; missing: " + list(missing);
  if (!unexpected.empty()) out += "; unexpected: " + list(unexpected);
  if (!mismatched.empty()) out += "; shape mismatch: " + list(mismatched);
  return out;
}

namespace {

WeightsReport fill(torch::nn::Module& module, StateDictArchive& archive, const std::string& path, bool strict,
                   const std::vector<std::string>& left_out) {
  std::map<std::string, at::Tensor> target;
  for (const auto& p : module.named_parameters()) target[p.key()] = p.value();
  for (const auto& b : module.named_buffers()) target[b.key()] = b.value();
  WeightsReport r;
  torch::NoGradGuard no_grad;
  for (const auto& key : archive.names()) {
    if (auxiliary(key)) {
      r.skipped.push_back(key);
      continue;
    }
    auto it = target.find(key);
    if (it == target.end()) {
      const bool unused = std::any_of(left_out.begin(), left_out.end(),
                                      [&](const std::string& m) { return key.rfind(m + ".", 0) == 0; });
      (unused ? r.unused : r.unexpected).push_back(key);
      continue;
    }
    at::Tensor& dst = it->second;
    const at::Tensor& shape = archive.shape_of(key);
    // timm's adapt_input_conv: a 3-channel first conv loads into a 1-channel one summed over channels.
    const bool adapt = shape.dim() == 4 && dst.dim() == 4 && shape.size(1) == 3 && dst.size(1) == 1 &&
                       shape.size(0) == dst.size(0) && shape.size(2) == dst.size(2) && shape.size(3) == dst.size(3);
    if (!adapt && shape.sizes() != dst.sizes()) {
      r.mismatched.push_back(key);  // never read
      continue;
    }
    const at::Tensor src = archive.read(key);
    if (adapt) {
      dst.copy_(src.sum(1, /*keepdim=*/true));
      r.adapted.push_back(key);
    } else if (archive.owns_record(key) && src.scalar_type() == dst.scalar_type() && dst.is_contiguous()) {
      dst.set_data(src);  // the record's memory becomes the parameter's: no second copy
    } else {
      dst.copy_(src);
    }
    r.loaded.push_back(key);
  }
  for (const auto& [key, tensor] : target)
    if (!archive.has(key)) r.missing.push_back(key);
  if (strict && (!r.missing.empty() || !r.unexpected.empty() || !r.mismatched.empty()))
    throw std::runtime_error("weights file '" + path + "' does not fit the model: " + r.summary() +
                             " (strict: false loads what fits, e.g. a backbone with another head)");
  return r;
}

template <typename Source>
WeightsReport load(torch::nn::Module& module, const Source& source, const std::string& path, bool strict,
                   const std::vector<std::string>& left_out) {
  std::unique_ptr<StateDictArchive> archive;
  try {
    if constexpr (std::is_same_v<Source, std::string>)
      archive = std::make_unique<StateDictArchive>(source);
    else
      archive = std::make_unique<StateDictArchive>(source, path);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw std::runtime_error(
        "weights file '" + path + "' is not a state dict trex can read (" + what +
        "); save it with torch.save(dict(model.state_dict()), path) in the zip format, or convert it "
        "with tools/export_torchvision_weights.py --resave " +
        path);
  }
  try {
    return fill(module, *archive, path, strict, left_out);
  } catch (const c10::Error& e) {
    throw std::runtime_error("weights file '" + path + "': " + e.msg().substr(0, e.msg().find('\n')));
  }
}

}  // namespace

WeightsReport load_state_dict_file(torch::nn::Module& module, const std::string& path, bool strict,
                                   const std::vector<std::string>& left_out) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("weights file '" + path + "' not found");
  return load(module, path, path, strict, left_out);
}

WeightsReport load_state_dict(torch::nn::Module& module, const std::vector<char>& bytes, const std::string& path,
                              bool strict, const std::vector<std::string>& left_out) {
  return load(module, bytes, path, strict, left_out);
}

}  // namespace trex
