#pragma once
// Typed parameter values that cross the plugin boundary. yaml-cpp types never
// do: the host validates YAML against a plugin's schema and hands it a ParamMap.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace trex {

enum class ParamType { Bool, Int, Float, String, IntList, FloatList, StringList };

using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>, std::vector<double>,
                           std::vector<std::string>>;

inline const char* type_name(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::IntList: return "list of int";
    case ParamType::FloatList: return "list of float";
    case ParamType::StringList: return "list of string";
  }
  return "?";
}

inline ParamType type_of(const Value& v) { return static_cast<ParamType>(v.index()); }

std::string to_string(const Value& v);

/// The validated, default-filled parameters of one plugin node.
class ParamMap {
 public:
  ParamMap() = default;
  explicit ParamMap(std::map<std::string, Value> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  void set(const std::string& key, Value v) { values_[key] = std::move(v); }
  const std::map<std::string, Value>& values() const { return values_; }

  template <typename T>
  const T& get(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::out_of_range("parameter '" + key + "' is not set");
    const T* v = std::get_if<T>(&it->second);
    if (!v) throw std::invalid_argument("parameter '" + key + "' has type " + type_name(type_of(it->second)));
    return *v;
  }
  std::int64_t get_int(const std::string& key) const { return get<std::int64_t>(key); }
  /// Ints are accepted where floats are asked for, as YAML users write `lr: 1`.
  double get_float(const std::string& key) const {
    auto it = values_.find(key);
    if (it != values_.end())
      if (auto i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    return get<double>(key);
  }
  bool get_bool(const std::string& key) const { return get<bool>(key); }
  const std::string& get_string(const std::string& key) const { return get<std::string>(key); }

 private:
  std::map<std::string, Value> values_;
};

namespace detail {
struct ValuePrinter {
  // Shortest text that reads back as the same double, so stored specs re-run exactly.
  static std::string num(double d) {
    char buf[64];
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, d);
      if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s = buf;
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a float in YAML
    return s;
  }
  std::string operator()(bool b) const { return b ? "true" : "false"; }
  std::string operator()(std::int64_t i) const { return std::to_string(i); }
  std::string operator()(double d) const { return num(d); }
  std::string operator()(const std::string& s) const { return s; }
  template <typename T>
  std::string operator()(const std::vector<T>& xs) const {
    std::string out = "[";
    for (size_t i = 0; i < xs.size(); ++i) {
      if (i) out += ", ";
      out += (*this)(xs[i]);
    }
    return out + "]";
  }
};
}  // namespace detail

inline std::string to_string(const Value& v) { return std::visit(detail::ValuePrinter{}, v); }

}  // namespace trex
