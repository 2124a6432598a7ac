#pragma once
// The plugin registry: finds plugin libraries on a search path, loads them with
// Boost.DLL, checks each descriptor, and builds objects by `type:` name.
// Torch-free: the objects it builds are handed out as kind interfaces.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trex/plugin/descriptor.h"
#include "trex/registry/diagnostics.h"
#include "trex/registry/schema.h"

namespace boost::dll {
class shared_library;
}

namespace trex {

struct PluginRecord {
  std::string path;  ///< the library file
  std::size_t search_index = 0;
  const Descriptor* descriptor = nullptr;
  std::shared_ptr<boost::dll::shared_library> library;
  std::unique_ptr<Plugin> (*factory)(const ParamMap&, const BuildContext&) = nullptr;
};

struct LoadProblem {
  std::string path;
  std::string reason;
};

struct ShadowedPlugin {
  Kind kind;
  std::string name;
  std::string winner;    ///< path of the library that answers to `name`
  std::string shadowed;  ///< path of the later one that was skipped
};

/// A `type:` name looked up: the library, and the preset when the name is one.
struct PluginRef {
  const PluginRecord* record = nullptr;
  const Preset* preset = nullptr;
};

/// A plugin node that passed validation: its type name and full parameter map.
struct ResolvedPlugin {
  std::string type;
  PluginRef ref;
  ParamMap params;
  Node node;  ///< the node with defaults filled, as it goes into the resolved spec
};

/// Thrown when a plugin factory fails or a plugin object is of the wrong kind.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Registry {
 public:
  /// Loads every `trex_*.so` in `dirs`, in order; earlier directories win.
  explicit Registry(std::vector<std::string> dirs);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// The default search path: the build's or install's plugin folder (found
  /// beside the running executable), then `extra` (--plugin-path), then
  /// TREX_PLUGIN_PATH (colon-separated).
  static std::vector<std::string> search_path(const std::vector<std::string>& extra = {});

  const std::vector<std::string>& dirs() const { return dirs_; }
  const std::vector<LoadProblem>& problems() const { return problems_; }
  const std::vector<ShadowedPlugin>& shadowed() const { return shadowed_; }
  std::vector<const PluginRecord*> plugins(std::optional<Kind> kind = std::nullopt) const;

  std::optional<PluginRef> find(Kind kind, const std::string& name) const;
  /// Every name and preset name of a kind, sorted.
  std::vector<std::string> names(Kind kind) const;

  /// Validates a plugin node (`{type: NAME, ...}` or a bare name) against the
  /// plugin's schema plus `host_keys`, recording problems in `diag`.
  std::optional<ResolvedPlugin> resolve(Kind kind, const Node& node, const std::string& path, Diagnostics& diag,
                                        const Schema& host_keys = {}) const;

  /// Builds the object. It keeps its library loaded for as long as it lives.
  std::shared_ptr<Plugin> create(const ResolvedPlugin& resolved, const BuildContext& ctx) const;

  /// Builds the object as a T (Dataset, Model, Augmentation or Metric), after
  /// checking that the plugin is of T's kind.
  template <typename T>
  std::shared_ptr<T> create_as(const ResolvedPlugin& resolved, const BuildContext& ctx) const {
    const Kind kind = resolved.ref.record->descriptor->kind;
    if (kind != T::kKind)
      throw PluginError("plugin '" + resolved.type + "' is a " + kind_name(kind) + " plugin, not a " +
                        kind_name(T::kKind));
    auto object = create(resolved, ctx);
    return std::shared_ptr<T>(object, static_cast<T*>(object.get()));
  }

 private:
  void load(const std::string& path, std::size_t search_index);

  std::vector<std::string> dirs_;
  std::vector<std::unique_ptr<PluginRecord>> records_;
  std::vector<LoadProblem> problems_;
  std::vector<ShadowedPlugin> shadowed_;
};

/// The preset name(s) and plain name a record answers to.
std::vector<std::string> answers_to(const Descriptor& d);

}  // namespace trex
