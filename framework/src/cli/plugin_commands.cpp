// trex plugins [--kind KIND] [--format table|json], trex plugins describe NAME
#include <iostream>

#include <nlohmann/json.hpp>

#include "command_table.h"
#include "common.h"
#include "table.h"
#include "trex/store/cell_json.h"
#include "trex/model/model_summary.h"

namespace trex::cli {
namespace {

std::optional<Kind> parse_kind(const std::string& s) {
  for (Kind k : {Kind::Dataset, Kind::Model, Kind::Augmentation, Kind::Metric})
    if (s == kind_name(k)) return k;
  return std::nullopt;
}

nlohmann::json param_json(const ParamSpec& p) {
  nlohmann::json j{{"name", p.name}, {"type", type_name(p.type)}, {"doc", p.doc}};
  j["default"] = p.default_value ? nlohmann::json(to_string(*p.default_value)) : nlohmann::json(nullptr);
  if (p.min) j["min"] = *p.min;
  if (p.max) j["max"] = *p.max;
  if (!p.choices.empty()) j["choices"] = p.choices;
  return j;
}

int do_list(const CommonOptions& common, const std::string& kind, const std::string& format) {
  auto registry = make_registry(common);
  std::optional<Kind> k;
  if (!kind.empty()) k = parse_kind(kind);
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* r : registry->plugins(k)) {
      const Descriptor& d = *r->descriptor;
      nlohmann::json presets = nlohmann::json::array();
      for (const auto& p : d.presets) presets.push_back(p.name);
      out.push_back({{"kind", kind_name(d.kind)},
                     {"name", d.name},
                     {"version", d.version},
                     {"summary", d.summary},
                     {"presets", presets},
                     {"path", r->path}});
    }
    std::cout << json_text(out, 2) << "\n";
    return 0;
  }
  Table t{{"kind", "name", "version", "presets", "summary"}, {}};
  for (const auto* r : registry->plugins(k)) {
    const Descriptor& d = *r->descriptor;
    std::string presets;
    for (const auto& p : d.presets) presets += (presets.empty() ? "" : ",") + p.name;
    t.rows.push_back({kind_name(d.kind), d.name, d.version, presets, d.summary});
  }
  std::cout << t.render("table");
  for (const auto& s : registry->shadowed())
    std::cout << "shadowed: " << kind_name(s.kind) << " '" << s.name << "' in " << s.shadowed << " (using " << s.winner
              << ")\n";
  for (const auto& p : registry->problems()) std::cout << "not loaded: " << p.path << ": " << p.reason << "\n";
  std::cout << "search path:";
  for (const auto& d : registry->dirs()) std::cout << " " << d;
  std::cout << "\n";
  return 0;
}

int do_describe(const CommonOptions& common, const std::string& name, const std::string& format,
                const std::string& input) {
  auto registry = make_registry(common);
  for (Kind k : {Kind::Dataset, Kind::Model, Kind::Augmentation, Kind::Metric}) {
    auto ref = registry->find(k, name);
    if (!ref) continue;
    const Descriptor& d = *ref->record->descriptor;
    if (format == "json") {
      nlohmann::json params = nlohmann::json::array();
      for (const auto& p : d.params) params.push_back(param_json(p));
      nlohmann::json j{{"kind", kind_name(k)}, {"name", d.name},       {"version", d.version},
                       {"summary", d.summary}, {"abi", d.abi_version}, {"path", ref->record->path},
                       {"params", params}};
      if (k == Kind::Metric) j["higher_is_better"] = d.higher_is_better;
      if (k == Kind::Augmentation) j["deterministic"] = d.deterministic;
      if (k == Kind::Model) {
        const Parity& parity = ref->preset ? ref->preset->parity : d.model.parity;
        j["parity"] = {{"torchvision", parity.torchvision}, {"stages", parity.stages}};
      }
      std::cout << json_text(j, 2) << "\n";
      return 0;
    }
    std::cout << kind_name(k) << " " << d.name << " " << d.version << " — " << d.summary << "\n";
    std::cout << "library: " << ref->record->path << " (ABI " << d.abi_version << ")\n";
    if (ref->preset) {
      std::cout << "preset '" << ref->preset->name << "' fixes:";
      for (const auto& [key, v] : ref->preset->fixed) std::cout << " " << key << "=" << to_string(v);
      std::cout << "\n";
    }
    if (!d.presets.empty()) {
      std::cout << "presets:";
      for (const auto& p : d.presets) std::cout << " " << p.name;
      std::cout << "\n";
    }
    if (k == Kind::Augmentation)
      std::cout << (d.deterministic
                        ? "deterministic: the output depends on the input alone (frozen features can be cached)\n"
                        : "random: draws from the per-sample RNG\n");
    if (k == Kind::Metric)
      std::cout << "direction: " << (d.higher_is_better ? "higher is better" : "lower is better") << "\n";
    if (k == Kind::Model) {
      const auto& m = d.model;
      std::cout << "default input: " << m.input_channels << "x" << m.input_height << "x" << m.input_width << "  mean "
                << to_string(Value(m.mean)) << "  std " << to_string(Value(m.std)) << "  classifier '" << m.classifier
                << "'\n";
      ImageShape shape{m.input_channels, m.input_height, m.input_width};
      if (!input.empty() &&
          std::sscanf(input.c_str(), "%ldx%ldx%ld", &shape.channels, &shape.height, &shape.width) != 3)
        return fail("--input is CxHxW, e.g. 3x48x48; got '" + input + "'");
      std::cout << model_summary(*registry, name, shape, 1000);
    }
    std::cout << "parameters:\n" << (d.params.empty() ? std::string("  (none)\n") : describe_schema(d.params));
    return 0;
  }
  std::vector<std::string> all;
  for (Kind k : {Kind::Dataset, Kind::Model, Kind::Augmentation, Kind::Metric})
    for (const auto& n : registry->names(k)) all.push_back(n);
  return fail("no plugin named '" + name + "'" + did_you_mean(name, all) + "; `trex plugins` lists them");
}

}  // namespace

void add_plugin_commands(CLI::App& app, int& exit_code) {
  auto common = std::make_shared<CommonOptions>();
  auto kind = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  auto* plugins = app.add_subcommand("plugins", help_of("plugins"));
  plugins->add_option("--kind", *kind, "dataset, model, augmentation or metric")
      ->check(CLI::IsMember({"dataset", "model", "augmentation", "metric"}));
  plugins->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  add_common(*plugins, *common, false, true);
  plugins->callback([=, &exit_code] {
    if (plugins->get_subcommands().empty()) exit_code = do_list(*common, *kind, *format);
  });

  auto name = std::make_shared<std::string>();
  auto* describe = plugins->add_subcommand("describe", "a plugin's summary, presets, metadata and parameter schema");
  describe->add_option("name", *name, "plugin or preset name")->required();
  describe->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  auto input = std::make_shared<std::string>();
  describe->add_option("--input", *input, "models: input size CxHxW for the cut-point shapes (default: the model's)");
  add_common(*describe, *common, false, true);
  describe->callback([=, &exit_code] { exit_code = do_describe(*common, *name, *format, *input); });
}

}  // namespace trex::cli
