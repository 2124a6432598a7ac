#include "trex/registry/schema.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace trex {
namespace {

std::string shown(const Node& n) {
  if (n.is_map()) return "a map";
  if (n.is_sequence()) return "a list";
  if (n.is_null()) return "null";
  std::string t = n.text();
  if (t.size() > 40) t = t.substr(0, 37) + "...";
  return "'" + t + "'";
}

bool check_range(double v, const ParamSpec& spec, const Node& node, const std::string& path, Diagnostics& diag) {
  if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
    std::string range = spec.min && spec.max
                            ? "[" + to_string(Value(*spec.min)) + ", " + to_string(Value(*spec.max)) + "]"
                        : spec.min ? ">= " + to_string(Value(*spec.min))
                                   : "<= " + to_string(Value(*spec.max));
    diag.add(node.origin(), path, to_string(Value(v)) + " is out of range: must be " + range);
    return false;
  }
  return true;
}

std::optional<std::int64_t> to_int(const Node& n, const ParamSpec& spec, const std::string& path, Diagnostics& diag) {
  bool overflow = false;
  auto v = n.as_int(&overflow);
  if (overflow) {
    diag.add(n.origin(), path, shown(n) + " does not fit a 64-bit integer");
    return std::nullopt;
  }
  if (!v) {
    diag.add(n.origin(), path, "expected an integer, got " + shown(n));
    return std::nullopt;
  }
  if (!check_range(static_cast<double>(*v), spec, n, path, diag)) return std::nullopt;
  return v;
}

std::optional<double> to_float(const Node& n, const ParamSpec& spec, const std::string& path, Diagnostics& diag) {
  auto v = n.as_float();
  if (!v) {
    diag.add(n.origin(), path, "expected a number, got " + shown(n));
    return std::nullopt;
  }
  if (!std::isfinite(*v)) {
    diag.add(n.origin(), path, "expected a finite number, got " + shown(n));
    return std::nullopt;
  }
  if (!check_range(*v, spec, n, path, diag)) return std::nullopt;
  return v;
}

std::optional<std::string> to_str(const Node& n, const ParamSpec& spec, const std::string& path, Diagnostics& diag) {
  if (!n.is_scalar() || n.is_null_scalar()) {
    diag.add(n.origin(), path, "expected a string, got " + shown(n));
    return std::nullopt;
  }
  if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), n.text()) == spec.choices.end()) {
    std::string list;
    for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
    diag.add(n.origin(), path, "'" + n.text() + "' is not one of: " + list + did_you_mean(n.text(), spec.choices));
    return std::nullopt;
  }
  return n.text();
}

template <typename T, typename F>
std::optional<Value> to_list(const Node& n, const std::string& path, Diagnostics& diag, F convert_one) {
  if (!n.is_sequence()) {
    diag.add(n.origin(), path, "expected a list, got " + shown(n));
    return std::nullopt;
  }
  std::vector<T> out;
  bool ok = true;
  for (size_t i = 0; i < n.items().size(); ++i) {
    auto v = convert_one(n.items()[i], join_path(path, std::to_string(i)));
    if (v)
      out.push_back(*v);
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return Value(std::move(out));
}

}  // namespace

std::optional<Value> convert_value(const Node& n, const ParamSpec& spec, const std::string& path, Diagnostics& diag) {
  switch (spec.type) {
    case ParamType::Bool: {
      auto b = n.as_bool();
      if (!b) {
        diag.add(n.origin(), path, "expected true or false, got " + shown(n));
        return std::nullopt;
      }
      return Value(*b);
    }
    case ParamType::Int:
      if (auto v = to_int(n, spec, path, diag)) return Value(*v);
      return std::nullopt;
    case ParamType::Float:
      if (auto v = to_float(n, spec, path, diag)) return Value(*v);
      return std::nullopt;
    case ParamType::String:
      if (auto v = to_str(n, spec, path, diag)) return Value(*v);
      return std::nullopt;
    case ParamType::IntList:
      return to_list<std::int64_t>(n, path, diag,
                                   [&](const Node& i, const std::string& p) { return to_int(i, spec, p, diag); });
    case ParamType::FloatList:
      return to_list<double>(n, path, diag,
                             [&](const Node& i, const std::string& p) { return to_float(i, spec, p, diag); });
    case ParamType::StringList:
      return to_list<std::string>(n, path, diag,
                                  [&](const Node& i, const std::string& p) { return to_str(i, spec, p, diag); });
  }
  return std::nullopt;
}

ParamMap validate_params(const Node& node, const Schema& schema, const std::string& path,
                         const std::map<std::string, Value>& fixed, const std::string& owner, Diagnostics& diag,
                         const std::vector<std::string>& ignore) {
  ParamMap out;
  if (!node.is_map()) {
    diag.add(node.origin(), path, "expected a map of parameters for " + owner + ", got " + shown(node));
    return out;
  }
  std::vector<std::string> names;
  for (const auto& p : schema) names.push_back(p.name);
  for (const auto& [key, value] : node.entries()) {
    if (std::find(ignore.begin(), ignore.end(), key) != ignore.end()) continue;
    const std::string key_path = join_path(path, key);
    auto spec =
        std::find_if(schema.begin(), schema.end(), [&name = key](const ParamSpec& p) { return p.name == name; });
    if (spec == schema.end()) {
      diag.add(value.origin(), key_path,
               "unknown key '" + key + "' for " + owner + did_you_mean(key, names) +
                   "; see `trex plugins describe` for its parameters");
      continue;
    }
    if (fixed.count(key)) {
      diag.add(value.origin(), key_path,
               "'" + key + "' is fixed to " + to_string(fixed.at(key)) + " by " + owner +
                   "; remove it or use the family's base name");
      continue;
    }
    if (auto v = convert_value(value, *spec, key_path, diag)) out.set(key, std::move(*v));
  }
  for (const auto& [key, value] : fixed) out.set(key, value);
  for (const auto& p : schema) {
    if (out.has(p.name)) continue;
    if (p.default_value)
      out.set(p.name, *p.default_value);
    else
      diag.add(node.origin(), join_path(path, p.name), "missing required key '" + p.name + "' for " + owner);
  }
  return out;
}

std::string describe_schema(const Schema& schema) {
  std::ostringstream out;
  for (const auto& p : schema) {
    out << "  " << p.name << " (" << type_name(p.type) << ")";
    if (p.default_value)
      out << " = " << to_string(*p.default_value);
    else
      out << " required";
    if (p.min || p.max)
      out << "  range [" << (p.min ? to_string(Value(*p.min)) : "-inf") << ", "
          << (p.max ? to_string(Value(*p.max)) : "inf") << "]";
    if (!p.choices.empty()) {
      out << "  one of {";
      for (size_t i = 0; i < p.choices.size(); ++i) out << (i ? ", " : "") << p.choices[i];
      out << "}";
    }
    out << "\n      " << p.doc << "\n";
  }
  return out.str();
}

}  // namespace trex
