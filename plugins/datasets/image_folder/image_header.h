#pragma once
// An image's width and height read from its header, before anything is
// decoded, so a 50-byte PNG that claims 100k x 100k pixels is refused by name
// instead of allocating 30 GB. Knows PNG, JPEG, BMP, WebP, PNM and TIFF; other
// formats answer "unknown" and rely on the codec's own limit.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace trex_image_folder {

struct ImageSize {
  std::uint64_t width = 0, height = 0;
  std::uint64_t pixels() const { return width * height; }
};

/// The size stated in the header among `size` leading bytes of an image file;
/// nullopt when the format is not one of the above or the header is cut short.
std::optional<ImageSize> header_size(const unsigned char* data, std::size_t size);

}  // namespace trex_image_folder
