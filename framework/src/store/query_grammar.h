#pragma once
// The parts of the query language the filter parser (query_filter.cpp) and
// the field and planner code (query.cpp) share. Private to store/.
#include <string>

#include "trex/store/query.h"

namespace trex::query::detail {

std::string lower(std::string s);
bool word_start(char c);
bool word_char(char c);
struct ColumnDef {
  const char* name;
  const char* sql;
};
const ColumnDef* find_column(const std::string& name);
/// A field name found at `pos` of `expr` (for the error's caret).
Field parse_field_at(const std::string& text, const std::string& expr, std::size_t pos);

}  // namespace trex::query::detail
