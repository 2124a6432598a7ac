#pragma once
// Feature-map grids: one tile per channel of a layer's output, each tile
// min-max normalised on its own, with the layer name and shape as the title.
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

namespace trex {

/// One 8-bit tile per channel of `activation` ([1, C, H, W]; [1, N] is one
/// tile of its N values laid out in a square).
std::vector<cv::Mat> activation_tiles(const at::Tensor& activation);

/// The tiles in a grid, each scaled up to at least `min_tile` pixels, under a title bar.
cv::Mat tile_grid(const std::vector<cv::Mat>& tiles, const std::string& title, int min_tile = 64);

}  // namespace trex
