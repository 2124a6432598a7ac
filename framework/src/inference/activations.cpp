#include "trex/inference/activations.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace trex {
namespace {
cv::Mat normalised(const cv::Mat& plane) {
  double lo = 0, hi = 0;
  cv::minMaxLoc(plane, &lo, &hi);
  cv::Mat out;
  // A constant map (a dead channel) shows as black rather than noise.
  plane.convertTo(out, CV_8U, hi > lo ? 255.0 / (hi - lo) : 0.0, hi > lo ? -lo * 255.0 / (hi - lo) : 0.0);
  return out;
}
}  // namespace

std::vector<cv::Mat> activation_tiles(const at::Tensor& activation) {
  at::Tensor a = activation.detach().to(at::kFloat).contiguous();
  if (a.dim() >= 1 && a.size(0) == 1) a = a.squeeze(0);
  std::vector<cv::Mat> tiles;
  if (a.dim() == 3) {
    for (std::int64_t c = 0; c < a.size(0); ++c) {
      at::Tensor plane = a[c].contiguous();
      cv::Mat m(static_cast<int>(plane.size(0)), static_cast<int>(plane.size(1)), CV_32F, plane.data_ptr<float>());
      tiles.push_back(normalised(m));
    }
  } else {
    at::Tensor flat = a.flatten();
    const auto n = flat.numel();
    const int side = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
    cv::Mat m(side, side, CV_32F, cv::Scalar(0));
    std::copy(flat.data_ptr<float>(), flat.data_ptr<float>() + n, m.ptr<float>());
    tiles.push_back(normalised(m));
  }
  return tiles;
}

cv::Mat tile_grid(const std::vector<cv::Mat>& tiles, const std::string& title, int min_tile) {
  if (tiles.empty()) return {};
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(tiles.size()))));
  const int rows =
      static_cast<int>((tiles.size() + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));
  const int scale = std::max(1, (min_tile + tiles[0].cols - 1) / tiles[0].cols);
  const int tw = tiles[0].cols * scale, th = tiles[0].rows * scale, gap = 2, bar = 28;
  cv::Mat grid(bar + rows * (th + gap), std::max(cols * (tw + gap), 320), CV_8UC1, cv::Scalar(255));
  cv::putText(grid, title, {4, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0), 1, cv::LINE_AA);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    cv::Mat big;
    cv::resize(tiles[i], big, {tw, th}, 0, 0, cv::INTER_NEAREST);  // nearest: keep each activation a visible block
    const int r = static_cast<int>(i) / cols, c = static_cast<int>(i) % cols;
    big.copyTo(grid(cv::Rect(c * (tw + gap), bar + r * (th + gap), tw, th)));
  }
  return grid;
}

}  // namespace trex
