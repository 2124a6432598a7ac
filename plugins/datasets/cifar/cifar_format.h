#pragma once
// The CIFAR binary version: fixed-size records of label byte(s) + 3072 planar
// R, G, B pixel bytes; and the class-name files beside them (one name a line).
#include <cstddef>
#include <string>
#include <vector>

#include "trex/plugin_kit/train_test_bytes.h"

namespace trex_cifar {

struct RecordLayout {
  std::size_t label_bytes = 1;  ///< CIFAR-10: 1; CIFAR-100: 2 (coarse, fine)
  std::size_t label_at = 0;     ///< which label byte to use
  std::size_t classes = 10;
  std::size_t max_records = 10000;  ///< what one file of the format holds at most
  std::size_t record() const;
};

/// Checks a file's size against the layout before anything is read; throws naming `name`.
void check_record_count(std::size_t size, const RecordLayout& layout, const std::string& name);
/// Appends `size` bytes of records to `out` (labels and pixels); throws naming `name` and the record.
void parse_records(const unsigned char* bytes, std::size_t size, const RecordLayout& layout, const std::string& name,
                   trex::ByteSplit& out);
/// Names, one a line; trailing CR and spaces dropped, empty lines skipped.
std::vector<std::string> parse_names(const std::string& text);

}  // namespace trex_cifar
