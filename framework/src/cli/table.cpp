#include "table.h"

#include <algorithm>
#include <ctime>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trex/store/cell_json.h"

namespace trex::cli {
namespace {
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

std::string Table::render(const std::string& format) const {
  std::ostringstream out;
  if (format == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json o = nlohmann::json::object();
      for (std::size_t i = 0; i < columns.size() && i < r.size(); ++i) o[columns[i]] = r[i];
      j.push_back(o);
    }
    return json_text(j, 2) + "\n";
  }
  if (format == "csv") {
    for (std::size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << csv_cell(columns[i]);
    out << "\n";
    for (const auto& r : rows) {
      for (std::size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << csv_cell(r[i]);
      out << "\n";
    }
    return out.str();
  }
  std::vector<std::size_t> width(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) width[i] = columns[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) s += (i ? "  " : "") + fmt::format("{:<{}}", cells[i], width[i]);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(columns);
  for (const auto& r : rows) line(r);
  return out.str();
}

std::string format_time(double t) {
  if (t <= 0) return "";
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_duration(double seconds) {
  if (seconds <= 0) return "";
  const long s = static_cast<long>(seconds + 0.5);
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

std::string format_number(double v) { return fmt::format("{:.4f}", v); }

}  // namespace trex::cli
