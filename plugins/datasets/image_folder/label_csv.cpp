#include "label_csv.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace trex_image_folder {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"')
      cell += '"', ++i;
    else if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      out.push_back(cell), cell.clear();
    else if (c != '\r')
      cell += c;
  }
  out.push_back(cell);
  return out;
}

std::vector<LabelRow> parse_label_csv(const std::string& text, const std::string& id_column,
                                      const std::string& label_column, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  auto column = [&](const std::string& wanted) {
    auto it = std::find(header.begin(), header.end(), wanted);
    if (it == header.end())
      throw std::runtime_error(name + ": no column '" + wanted +
                               "' in the header; set data.id_column / data.label_column");
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t id_col = column(id_column), label_col = column(label_column);
  std::vector<LabelRow> rows;
  for (std::size_t number = 2; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split_csv_line(line);
    if (cells.size() <= std::max(id_col, label_col) || cells[label_col].empty())
      throw std::runtime_error(name + " row " + std::to_string(number) + ": the label is missing; every row needs " +
                               id_column + " and " + label_column);
    rows.push_back({number, cells[id_col], cells[label_col]});
  }
  if (rows.empty()) throw std::runtime_error(name + ": no rows");
  return rows;
}

}  // namespace trex_image_folder
