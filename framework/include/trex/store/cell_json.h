#pragma once
// A store value as JSON, keeping its type (numbers stay numbers); NaN and
// infinities, which JSON cannot hold, become null.
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "trex/common/json.h"
#include "trex/store/sqlite.h"

namespace trex {

inline nlohmann::json cell_json(const sql::Cell& c) {
  if (auto i = std::get_if<std::int64_t>(&c)) return *i;
  if (auto d = std::get_if<double>(&c)) return std::isfinite(*d) ? nlohmann::json(*d) : nlohmann::json(nullptr);
  if (auto s = std::get_if<std::string>(&c)) return *s;
  return nullptr;
}

}  // namespace trex
