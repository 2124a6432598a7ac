#pragma once
// One source of truth per option. A table binds each YAML key to a member of
// an options struct: the member's default initializer is the default, the
// table entry holds the type (from the member), range, choices and doc. The
// schema that validates YAML and the code that fills the struct both come
// from the table, so they cannot drift apart (as `eps` once did: 1e-8 in the
// struct, 1e-6 in Adadelta's schema).
//
//   OptionTable<LossOptions> t;
//   t.field("label_smoothing", &LossOptions::label_smoothing, "label smoothing").range(0, 0.999);
#include <algorithm>
#include <deque>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "trex/plugin/descriptor.h"

namespace trex {

namespace detail {
/// The schema type of an options-struct member.
template <typename T>
constexpr ParamType param_type() {
  if constexpr (std::is_same_v<T, bool>)
    return ParamType::Bool;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return ParamType::Int;
  else if constexpr (std::is_same_v<T, double>)
    return ParamType::Float;
  else if constexpr (std::is_same_v<T, std::string>)
    return ParamType::String;
  else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
    return ParamType::IntList;
  else {
    static_assert(std::is_same_v<T, std::vector<double>>, "an option is bool, int64, double, string or a list");
    return ParamType::FloatList;
  }
}

template <typename T>
T read(const ParamMap& p, const std::string& key) {
  if constexpr (std::is_same_v<T, double>)
    return p.get_float(key);  // `lr: 1` is a float
  else
    return p.get<T>(key);
}
}  // namespace detail

template <typename S>
class OptionTable {
 public:
  struct Entry {
    ParamSpec spec;
    std::vector<std::string> types;  ///< the section `type`s it belongs to; empty: every type
    std::function<void(S&, const ParamMap&)> fill;

    Entry& range(double lo, double hi) { return spec.range(lo, hi), *this; }
    Entry& at_least(double lo) { return spec.at_least(lo), *this; }
    Entry& one_of(std::vector<std::string> choices) { return spec.one_of(std::move(choices)), *this; }
    /// Only for these values of the section's `type` (an optimizer's, a schedule's).
    Entry& when(std::vector<std::string> section_types) { return types = std::move(section_types), *this; }
    bool applies(const std::string& type) const {
      return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
    }
  };

  /// Binds `name` to `member`; its default is what a default-constructed S holds.
  template <typename T>
  Entry& field(const char* name, T S::*member, const char* doc) {
    ParamSpec spec(name, detail::param_type<T>(), doc);
    spec.def(Value(S{}.*member));
    entries_.push_back({std::move(spec), {}, [member, key = std::string(name)](S& s, const ParamMap& p) {
                          if (p.has(key)) s.*member = detail::read<T>(p, key);
                        }});
    return entries_.back();
  }

  /// The schema for a section of `type` (keys in table order).
  Schema schema(const std::string& type = "") const {
    Schema out;
    for (const auto& e : entries_)
      if (e.applies(type)) out.push_back(e.spec);
    return out;
  }
  /// `s` with every validated value of `p` that applies to `type`.
  void fill(S& s, const ParamMap& p, const std::string& type = "") const {
    for (const auto& e : entries_)
      if (e.applies(type)) e.fill(s, p);
  }

 private:
  std::deque<Entry> entries_;  ///< a deque: field() hands out references that later fields must not move
};

}  // namespace trex
