#pragma once
// Renders rows as an aligned text table, CSV or JSON (nlohmann-json).
#include <string>
#include <vector>

namespace trex::cli {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::string render(const std::string& format) const;  ///< table | csv | json
};

std::string format_time(double unix_seconds);
std::string format_duration(double seconds);
std::string format_number(double v);

}  // namespace trex::cli
