#pragma once
// The label file of the csv layout (Kaggle's dog-breed labels.csv): a header
// naming the columns, then one row per image. Cells follow RFC 4180 quoting
// on one line ("a, b" is one cell, "" inside quotes is a quote).
#include <cstddef>
#include <string>
#include <vector>

namespace trex_image_folder {

std::vector<std::string> split_csv_line(const std::string& line);

struct LabelRow {
  std::size_t line = 0;  ///< 1-based line in the file
  std::string id, label;
};

/// The (id, label) of every non-empty row; `name` (the file) starts every error,
/// which also names the row and the columns it needs.
std::vector<LabelRow> parse_label_csv(const std::string& text, const std::string& id_column,
                                      const std::string& label_column, const std::string& name);

}  // namespace trex_image_folder
