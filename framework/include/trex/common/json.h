#pragma once
// JSON text that never throws on bytes that are not UTF-8 (a class folder's
// name in Latin-1, a hostile store): they become U+FFFD.
#include <string>

#include <nlohmann/json.hpp>

namespace trex {

inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace trex
