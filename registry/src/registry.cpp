#include "trex/registry/registry.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "trex/plugin/export.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

/// Destroys the plugin object before it lets go of the library its code lives in.
struct Holder {
  std::shared_ptr<boost::dll::shared_library> library;
  std::unique_ptr<Plugin> object;
  ~Holder() { object.reset(); }
};

std::vector<std::string> split_colons(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(':', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> answers_to(const Descriptor& d) {
  std::vector<std::string> out{d.name};
  for (const auto& p : d.presets) out.push_back(p.name);
  return out;
}

Registry::Registry(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {
  for (std::size_t i = 0; i < dirs_.size(); ++i) {
    std::error_code ec;
    if (!fs::is_directory(dirs_[i], ec)) continue;
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dirs_[i], ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("trex_", 0) == 0 && entry.path().extension() == ".so") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());  // directory order is arbitrary; duplicates must not be
    for (const auto& f : files) load(f, i);
  }
}

Registry::~Registry() = default;

std::vector<std::string> Registry::search_path(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  fs::path exe_dir = boost::dll::program_location(ec).parent_path().string();
  if (!ec) {
    for (const fs::path candidate : {exe_dir / ".." / "plugins", exe_dir / ".." / TREX_RELATIVE_PLUGIN_DIR}) {
      std::error_code fec;
      if (fs::is_directory(candidate, fec)) {
        out.push_back(fs::weakly_canonical(candidate, fec).string());
        break;
      }
    }
  }
  out.insert(out.end(), extra.begin(), extra.end());
  if (const char* env = std::getenv("TREX_PLUGIN_PATH")) {
    auto env_dirs = split_colons(env);
    out.insert(out.end(), env_dirs.begin(), env_dirs.end());
  }
  return out;
}

void Registry::load(const std::string& path, std::size_t search_index) {
  auto record = std::make_unique<PluginRecord>();
  record->path = path;
  record->search_index = search_index;
  try {
    record->library = std::make_shared<boost::dll::shared_library>(path);
  } catch (const std::exception& e) {
    problems_.push_back({path, std::string("cannot load the library: ") + e.what()});
    return;
  }
  for (const char* alias : {kDescriptorAlias, kFactoryAlias}) {
    if (!record->library->has(alias)) {
      problems_.push_back(
          {path, std::string("missing symbol '") + alias + "': not a trex plugin, or built without TREX_PLUGIN(...)"});
      return;
    }
  }
  const Descriptor& d = record->library->get_alias<DescriptorFn>(kDescriptorAlias)();
  if (d.abi_version != TREX_ABI_VERSION) {
    problems_.push_back({path, "plugin ABI version " + std::to_string(d.abi_version) + " differs from the host's " +
                                   std::to_string(TREX_ABI_VERSION) + "; rebuild the plugin against this trex"});
    return;
  }
  if (d.descriptor_size != sizeof(Descriptor)) {
    problems_.push_back({path, "descriptor size " + std::to_string(d.descriptor_size) + " differs from the host's " +
                                   std::to_string(sizeof(Descriptor)) + "; rebuild the plugin against this trex"});
    return;
  }
  if (d.name.empty()) {
    problems_.push_back({path, "descriptor has an empty name"});
    return;
  }
  record->descriptor = &d;
  record->factory = &record->library->get_alias<FactoryFn>(kFactoryAlias);

  // Names and presets share one namespace per kind.
  for (const auto& name : answers_to(d)) {
    auto existing = find(d.kind, name);
    if (!existing) continue;
    const PluginRecord* other = existing->record;
    if (other->search_index == search_index) {
      problems_.push_back({path, std::string(kind_name(d.kind)) + " name '" + name + "' is already taken by " +
                                     other->path + "; rename one of them"});
      return;
    }
    shadowed_.push_back({d.kind, name, other->path, path});
  }
  // A library shadowed under every name it has is not used at all.
  auto names = answers_to(d);
  bool any_free = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return !find(d.kind, n); });
  if (!any_free) return;
  records_.push_back(std::move(record));
}

std::vector<const PluginRecord*> Registry::plugins(std::optional<Kind> kind) const {
  std::vector<const PluginRecord*> out;
  for (const auto& r : records_)
    if (!kind || r->descriptor->kind == *kind) out.push_back(r.get());
  return out;
}

std::optional<PluginRef> Registry::find(Kind kind, const std::string& name) const {
  for (const auto& r : records_) {
    const Descriptor& d = *r->descriptor;
    if (d.kind != kind) continue;
    if (d.name == name) return PluginRef{r.get(), nullptr};
    for (const auto& p : d.presets)
      if (p.name == name) return PluginRef{r.get(), &p};
  }
  return std::nullopt;
}

std::vector<std::string> Registry::names(Kind kind) const {
  std::vector<std::string> out;
  for (const auto* r : plugins(kind))
    for (const auto& n : answers_to(*r->descriptor)) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<ResolvedPlugin> Registry::resolve(Kind kind, const Node& node, const std::string& path, Diagnostics& diag,
                                                const Schema& host_keys) const {
  Node body = node;
  if (node.is_scalar() && !node.is_null_scalar()) {  // a bare name: `- accuracy`
    body = Node::map(node.origin());
    body.set("type", node);
  }
  if (!body.is_map()) {
    diag.add(node.origin(), path, std::string("expected a ") + kind_name(kind) + " node with a 'type:' key");
    return std::nullopt;
  }
  const Node* type = body.find("type");
  if (!type || !type->is_scalar() || type->is_null_scalar()) {
    diag.add(body.origin(), join_path(path, "type"),
             std::string("missing 'type:'; one of the ") + kind_name(kind) + " plugins is needed");
    return std::nullopt;
  }
  auto ref = find(kind, type->text());
  if (!ref) {
    std::string list;
    for (const auto& n : names(kind)) list += (list.empty() ? "" : ", ") + n;
    diag.add(type->origin(), join_path(path, "type"),
             std::string("unknown ") + kind_name(kind) + " type '" + type->text() + "'" +
                 did_you_mean(type->text(), names(kind)) + "; registered: " + (list.empty() ? "(none)" : list));
    return std::nullopt;
  }
  const Descriptor& d = *ref->record->descriptor;
  Schema schema = d.params;
  schema.insert(schema.end(), host_keys.begin(), host_keys.end());
  std::map<std::string, Value> fixed;
  std::string owner = std::string(kind_name(kind)) + " '" + d.name + "'";
  if (ref->preset) {
    fixed = ref->preset->fixed;
    owner = std::string(kind_name(kind)) + " preset '" + ref->preset->name + "'";
  }
  const size_t before = diag.issues().size();
  ParamMap params = validate_params(body, schema, path, fixed, owner, diag);
  if (diag.issues().size() != before) return std::nullopt;

  ResolvedPlugin out{type->text(), *ref, params, Node::map(body.origin())};
  out.node.set("type", *type);
  for (const auto& p : schema) {
    if (fixed.count(p.name)) continue;  // implied by the preset name
    const Node* given = body.find(p.name);
    out.node.set(p.name, given ? *given : Node::from_value(params.values().at(p.name), body.origin()));
  }
  return out;
}

std::shared_ptr<Plugin> Registry::create(const ResolvedPlugin& resolved, const BuildContext& ctx) const {
  const PluginRecord& r = *resolved.ref.record;
  auto holder = std::make_shared<Holder>();
  holder->library = r.library;
  try {
    holder->object = r.factory(resolved.params, ctx);
  } catch (const std::exception& e) {
    // Rethrown as a host error while the library is still loaded.
    throw PluginError(std::string(kind_name(r.descriptor->kind)) + " '" + resolved.type + "' (" + r.path +
                      ") failed to build: " + e.what());
  }
  if (!holder->object)
    throw PluginError(std::string(kind_name(r.descriptor->kind)) + " '" + resolved.type + "' (" + r.path +
                      ") returned no object");
  Plugin* raw = holder->object.get();
  return std::shared_ptr<Plugin>(holder, raw);
}

}  // namespace trex
