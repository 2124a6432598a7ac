#pragma once
// A grid of images, each with a one- or two-line caption above it and an
// optional coloured frame (e.g. red for a wrong prediction). Drawn with OpenCV.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace trex::report {

struct Tile {
  cv::Mat image;  ///< 8-bit, 1 or 3 channels (RGB), any size
  std::vector<std::string> caption;
  bool highlight = false;  ///< framed in red
};

struct GridLayout {
  int columns = 6;
  int tile = 132;  ///< pixels; images are scaled to fit, small ones with nearest neighbour
};

/// The grid as a BGR image: rows = ceil(tiles / columns).
cv::Mat image_grid(const std::vector<Tile>& tiles, const GridLayout& layout = {});
/// Size of the grid image_grid() makes for `count` tiles.
cv::Size grid_size(std::size_t count, const GridLayout& layout = {});

void write_png(const cv::Mat& image, const std::string& path);

}  // namespace trex::report
