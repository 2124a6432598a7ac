#pragma once
// What every plugin library exports: a descriptor and a factory under fixed
// alias names. This header is torch-free on purpose: the registry and the spec
// loader include it, and they must compile in well under a second.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "trex/plugin/value.h"

#ifndef TREX_ABI_VERSION
/// Bumped whenever Descriptor, Plugin or a kind's interface changes layout.
#define TREX_ABI_VERSION \
  6  // 2: Dataset::skipped_images; 3: Descriptor::deterministic; 4: Parity;
     // 5: BuildContext::cut, Model::left_out; 6: Augmentation::apply_at
#endif

namespace trex {

enum class Kind { Dataset, Model, Augmentation, Metric };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Dataset: return "dataset";
    case Kind::Model: return "model";
    case Kind::Augmentation: return "augmentation";
    case Kind::Metric: return "metric";
  }
  return "?";
}

/// One parameter of a plugin's schema (OBS properties + defaults).
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  std::optional<Value> default_value;  ///< none: the key is required
  std::optional<double> min;           ///< inclusive bound for numbers (each element of lists)
  std::optional<double> max;
  std::vector<std::string> choices;  ///< allowed strings, empty: any
  std::string doc;

  ParamSpec(std::string n, ParamType t, std::string d) : name(std::move(n)), type(t), doc(std::move(d)) {}
  ParamSpec& def(Value v) {
    default_value = std::move(v);
    return *this;
  }
  ParamSpec& range(double lo, double hi) {
    min = lo;
    max = hi;
    return *this;
  }
  ParamSpec& at_least(double lo) {
    min = lo;
    return *this;
  }
  ParamSpec& one_of(std::vector<std::string> c) {
    choices = std::move(c);
    return *this;
  }
};

using Schema = std::vector<ParamSpec>;

/// A model's torchvision twin, which the parity tests build beside it on the
/// same weights and compare at every stage listed here: the plugin states the
/// claim, the test checks it.
struct Parity {
  std::string torchvision;  ///< the torchvision.models constructor, e.g. "resnet18"; empty: none
  std::vector<std::pair<std::string, std::string>> stages;  ///< trex cut point -> torchvision module path
};

/// An extra name that fixes some parameters: one `resnet` library answers to `resnet18`.
struct Preset {
  std::string name;
  std::string summary;
  std::map<std::string, Value> fixed;
  Parity parity;  ///< models: the preset's torchvision twin
};

/// Pretrained metadata a model carries (timm's pretrained config).
struct ModelInfo {
  std::int64_t input_channels = 3;
  std::int64_t input_height = 224;
  std::int64_t input_width = 224;
  std::vector<double> mean{0.0};
  std::vector<double> std{1.0};
  std::string classifier;  ///< name of the classifier stage a transfer head replaces
  Parity parity;           ///< the plugin's own torchvision twin (presets have theirs)
};

/// torchvision's ImageNet preprocessing: 3x224x224, ImageNet mean/std.
inline ModelInfo imagenet_model_info(std::string classifier) {
  ModelInfo m;
  m.input_channels = 3;
  m.input_height = m.input_width = 224;
  m.mean = {0.485, 0.456, 0.406};
  m.std = {0.229, 0.224, 0.225};
  m.classifier = std::move(classifier);
  return m;
}

/// `channel_mode` of models whose first conv takes RGB (torchvision backbones).
inline ParamSpec channel_mode_param() {
  return ParamSpec("channel_mode", ParamType::String, "replicate a 1-channel input to RGB, or adapt the first conv")
      .def(std::string("replicate"))
      .one_of({"replicate", "adapt"});
}

/// `replicate` repeats a 1-channel input to RGB, so only 1 or 3 channels fit it.
inline void check_channel_mode(const std::string& model, const std::string& mode, std::int64_t channels) {
  if (mode == "replicate" && channels != 1 && channels != 3)
    throw std::invalid_argument(model +
                                " channel_mode replicate takes 1- or 3-channel images; use channel_mode: adapt for " +
                                std::to_string(channels));
}

struct Descriptor {
  // abi_version and descriptor_size come first and never move: the host reads
  // them before anything else (gz-plugin's handshake).
  std::uint32_t abi_version = TREX_ABI_VERSION;
  std::uint32_t descriptor_size = sizeof(Descriptor);
  Kind kind = Kind::Model;
  std::string name;
  std::string version;  ///< semantic version of the plugin
  std::string summary;
  Schema params;
  std::vector<Preset> presets;
  bool higher_is_better = true;  ///< metrics only
  ModelInfo model;               ///< models only
  /// Augmentations only: the output depends on the input alone, never on the
  /// RNG — what lets trex cache a frozen backbone's features.
  bool deterministic = false;
};

inline Descriptor make_descriptor(Kind kind, std::string name, std::string version, std::string summary,
                                  Schema params = {}) {
  Descriptor d;
  d.kind = kind;
  d.name = std::move(name);
  d.version = std::move(version);
  d.summary = std::move(summary);
  d.params = std::move(params);
  return d;
}

/// Marks an augmentation's descriptor as RNG-free (resize, normalize, ...).
inline Descriptor deterministic_augmentation(Descriptor d) {
  d.deterministic = true;
  return d;
}

/// Input a factory needs besides its parameters.
struct BuildContext {
  std::int64_t channels = 0;  ///< dataset's image channels (models)
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t num_classes = 0;
  std::uint64_t seed = 0;
  /// Models: the last stage the host will run (a composite backbone's cut);
  /// empty: all of them. A model may leave out the modules that only later
  /// stages use, and names them in Model::left_out.
  std::string cut;
};

/// Base of every plugin object; the host casts by the descriptor's kind.
class Plugin {
 public:
  virtual ~Plugin() = default;
};

}  // namespace trex
