#pragma once
// JSON text that survives any bytes, and a store value as JSON, keeping its type (numbers stay numbers); NaN and
// infinities, which JSON cannot hold, become null.
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "trex/core/sqlite.h"

namespace trex {

/// JSON text that never throws on bytes that are not UTF-8 (a class folder's
/// name in Latin-1, a hostile store): they become U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline nlohmann::json cell_json(const sql::Cell& c) {
  if (auto i = std::get_if<std::int64_t>(&c)) return *i;
  if (auto d = std::get_if<double>(&c)) return std::isfinite(*d) ? nlohmann::json(*d) : nlohmann::json(nullptr);
  if (auto s = std::get_if<std::string>(&c)) return *s;
  return nullptr;
}

}  // namespace trex
