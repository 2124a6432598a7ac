// The image folder's label CSV and the image-header sniffer behind
// data.max_pixels, on any bytes (ASan sees every read past the buffer).
#include "../fuzz_target.h"
#include "datasets/image_folder/image_header.h"
#include "datasets/image_folder/label_csv.h"

TREX_FUZZ_TARGET(image_folder) {
  (void)trex_image_folder::header_size(data, size);
  try {
    for (const auto& row :
         trex_image_folder::parse_label_csv(trex::fuzz::text(data, size), "id", "breed", "labels.csv"))
      if (row.label.empty()) trex::fuzz::violated("a row without its label was accepted");
  } catch (const std::runtime_error&) {}
}
