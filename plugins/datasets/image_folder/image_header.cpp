#include "image_header.h"

#include <cstring>

namespace trex_image_folder {
namespace {

/// Bounds-checked big- and little-endian reads over [data, data + size).
struct Bytes {
  const unsigned char* data;
  std::size_t size;
  bool has(std::size_t at, std::size_t n) const { return at <= size && n <= size - at; }
  std::uint64_t be(std::size_t at, int n) const {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | data[at + static_cast<std::size_t>(i)];
    return v;
  }
  std::uint64_t le(std::size_t at, int n) const {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | data[at + static_cast<std::size_t>(i)];
    return v;
  }
  bool starts(std::size_t at, const char* text) const {
    const std::size_t n = std::strlen(text);
    return has(at, n) && std::memcmp(data + at, text, n) == 0;
  }
};

std::optional<ImageSize> png(const Bytes& b) {
  if (!b.starts(0, "\x89PNG\r\n\x1a\n") || !b.starts(12, "IHDR") || !b.has(16, 8)) return std::nullopt;
  return ImageSize{b.be(16, 4), b.be(20, 4)};
}

// Walks the marker segments to the first start-of-frame; each length is
// checked against what is left, and every step moves forward.
std::optional<ImageSize> jpeg(const Bytes& b) {
  if (!b.starts(0, "\xff\xd8")) return std::nullopt;
  std::size_t at = 2;
  while (b.has(at, 2)) {
    if (b.data[at] != 0xff) return std::nullopt;
    const unsigned char marker = b.data[at + 1];
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    at += 2;
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;          // no length
    if (marker == 0xd9 || marker == 0xda || !b.has(at, 2)) return std::nullopt;  // end, or scan data before a frame
    const std::size_t length = b.be(at, 2);
    if (length < 2) return std::nullopt;
    const bool frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (length < 7 || !b.has(at, 7)) return std::nullopt;
      return ImageSize{b.be(at + 5, 2), b.be(at + 3, 2)};
    }
    at += length;
  }
  return std::nullopt;
}

std::optional<ImageSize> bmp(const Bytes& b) {
  if (!b.starts(0, "BM") || !b.has(14, 4)) return std::nullopt;
  const std::uint64_t dib = b.le(14, 4);
  if (dib == 12 && b.has(18, 4)) return ImageSize{b.le(18, 2), b.le(20, 2)};  // OS/2 core header
  if (dib < 40 || !b.has(18, 8)) return std::nullopt;
  const auto width = static_cast<std::int32_t>(b.le(18, 4)), height = static_cast<std::int32_t>(b.le(22, 4));
  auto magnitude = [](std::int32_t v) {
    return v < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(v)) : static_cast<std::uint64_t>(v);
  };
  return ImageSize{magnitude(width), magnitude(height)};
}

std::optional<ImageSize> webp(const Bytes& b) {
  if (!b.starts(0, "RIFF") || !b.starts(8, "WEBP")) return std::nullopt;
  if (b.starts(12, "VP8 ") && b.has(26, 4)) return ImageSize{b.le(26, 2) & 0x3fff, b.le(28, 2) & 0x3fff};
  if (b.starts(12, "VP8L") && b.has(21, 4)) {
    const std::uint64_t bits = b.le(21, 4);
    return ImageSize{(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
  }
  if (b.starts(12, "VP8X") && b.has(24, 6)) return ImageSize{b.le(24, 3) + 1, b.le(27, 3) + 1};
  return std::nullopt;
}

// P1-P6: magic, then width and height as decimal text, with # comments between.
std::optional<ImageSize> pnm(const Bytes& b) {
  if (!b.has(0, 2) || b.data[0] != 'P' || b.data[1] < '1' || b.data[1] > '6') return std::nullopt;
  std::size_t at = 2;
  std::uint64_t values[2];
  for (std::uint64_t& v : values) {
    for (;;) {  // whitespace and comments
      if (!b.has(at, 1)) return std::nullopt;
      const unsigned char c = b.data[at];
      if (c == '#') {
        while (b.has(at, 1) && b.data[at] != '\n') ++at;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++at;
      } else {
        break;
      }
    }
    v = 0;
    std::size_t digits = 0;
    for (; b.has(at, 1) && b.data[at] >= '0' && b.data[at] <= '9'; ++at, ++digits) {
      if (digits >= 10) return std::nullopt;  // over 9,999,999,999: not an image
      v = v * 10 + (b.data[at] - '0');
    }
    if (digits == 0) return std::nullopt;
  }
  return ImageSize{values[0], values[1]};
}

// The first image file directory's ImageWidth (256) and ImageLength (257).
std::optional<ImageSize> tiff(const Bytes& b) {
  const bool little = b.starts(0, "II*") && b.has(3, 1) && b.data[3] == 0;
  const bool big = b.starts(0, "MM") && b.has(2, 2) && b.data[2] == 0 && b.data[3] == '*';
  if ((!little && !big) || !b.has(4, 4)) return std::nullopt;
  auto read = [&](std::size_t at, int n) { return little ? b.le(at, n) : b.be(at, n); };
  const std::uint64_t ifd = read(4, 4);
  if (!b.has(ifd, 2)) return std::nullopt;
  const std::uint64_t entries = read(ifd, 2);
  ImageSize s;
  for (std::uint64_t e = 0; e < entries; ++e) {
    const std::size_t at = ifd + 2 + 12 * e;
    if (!b.has(at, 12)) return std::nullopt;
    const std::uint64_t tag = read(at, 2), type = read(at + 2, 2);
    if (tag != 256 && tag != 257) continue;
    const std::uint64_t value = type == 3 ? read(at + 8, 2) : type == 4 ? read(at + 8, 4) : 0;
    (tag == 256 ? s.width : s.height) = value;
  }
  if (s.width == 0 || s.height == 0) return std::nullopt;
  return s;
}

}  // namespace

std::optional<ImageSize> header_size(const unsigned char* data, std::size_t size) {
  const Bytes b{data, size};
  for (auto sniff : {png, jpeg, bmp, webp, pnm, tiff})
    if (auto s = sniff(b)) return s;
  return std::nullopt;
}

}  // namespace trex_image_folder
