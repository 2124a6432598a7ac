#include "cifar_format.h"

#include <sstream>
#include <stdexcept>

namespace trex_cifar {

constexpr std::size_t kPixels = 3 * 32 * 32;

std::size_t RecordLayout::record() const { return label_bytes + kPixels; }

void check_record_count(std::size_t size, const RecordLayout& layout, const std::string& name) {
  const std::size_t record = layout.record();
  if (size == 0)
    throw std::runtime_error(name + ": empty file, expected records of " + std::to_string(record) + " bytes");
  if (size % record != 0)
    throw std::runtime_error(name + ": record " + std::to_string(size / record) + " is truncated: expected " +
                             std::to_string(record) + " bytes, found " + std::to_string(size % record));
  if (size / record > layout.max_records)
    throw std::runtime_error(name + ": " + std::to_string(size / record) + " records of " + std::to_string(record) +
                             " bytes, but such a file holds at most " + std::to_string(layout.max_records) +
                             " (is data.variant right?)");
}

void parse_records(const unsigned char* bytes, std::size_t size, const RecordLayout& layout, const std::string& name,
                   trex::ByteSplit& out) {
  check_record_count(size, layout, name);
  const std::size_t record = layout.record();
  if (layout.label_at >= layout.label_bytes)
    throw std::invalid_argument("cifar: label byte outside the record's labels");
  for (std::size_t r = 0; r < size / record; ++r) {
    const unsigned char* rec = bytes + r * record;
    const std::size_t label = rec[layout.label_at];
    if (label >= layout.classes)
      throw std::runtime_error(name + ": record " + std::to_string(r) + " has label " + std::to_string(label) +
                               ", expected 0.." + std::to_string(layout.classes - 1) + " (is data.variant right?)");
    out.labels.push_back(static_cast<std::int64_t>(label));
    out.pixels.insert(out.pixels.end(), rec + layout.label_bytes, rec + record);
  }
}

std::vector<std::string> parse_names(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace trex_cifar
