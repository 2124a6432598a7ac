#include "trex/report/image_grid.h"

#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace trex::report {
namespace {

constexpr int kLine = 16, kLines = 2, kPad = 6;
constexpr double kFontScale = 0.36;
const cv::Scalar kText(40, 40, 40), kWrong(40, 40, 220);

int cell_width(const GridLayout& l) { return l.tile + 2 * kPad; }
int cell_height(const GridLayout& l) { return l.tile + 2 * kPad + kLine * kLines; }

}  // namespace

cv::Size grid_size(std::size_t count, const GridLayout& l) {
  const int cols = std::max(1, std::min(l.columns, static_cast<int>(count)));
  const int rows =
      static_cast<int>((count + static_cast<std::size_t>(l.columns) - 1) / static_cast<std::size_t>(l.columns));
  return {cols * cell_width(l), std::max(1, rows) * cell_height(l)};
}

cv::Mat image_grid(const std::vector<Tile>& tiles, const GridLayout& l) {
  cv::Mat grid(grid_size(tiles.size(), l), CV_8UC3, cv::Scalar(255, 255, 255));
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int x = static_cast<int>(i % static_cast<std::size_t>(l.columns)) * cell_width(l);
    const int y = static_cast<int>(i / static_cast<std::size_t>(l.columns)) * cell_height(l);
    const Tile& t = tiles[i];
    cv::Mat bgr;
    if (t.image.channels() == 1)
      cv::cvtColor(t.image, bgr, cv::COLOR_GRAY2BGR);
    else
      cv::cvtColor(t.image, bgr, cv::COLOR_RGB2BGR);
    const double scale = std::min(static_cast<double>(l.tile) / bgr.cols, static_cast<double>(l.tile) / bgr.rows);
    cv::Mat scaled;
    cv::resize(bgr, scaled, cv::Size(), scale, scale, scale > 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
    const int ox = x + kPad + (l.tile - scaled.cols) / 2, oy = y + kLine * kLines + kPad + (l.tile - scaled.rows) / 2;
    scaled.copyTo(grid(cv::Rect(ox, oy, scaled.cols, scaled.rows)));
    if (t.highlight) cv::rectangle(grid, cv::Rect(ox - 3, oy - 3, scaled.cols + 6, scaled.rows + 6), kWrong, 3);
    for (std::size_t line = 0; line < t.caption.size() && line < kLines; ++line) {
      std::string text = t.caption[line];
      int baseline = 0;
      while (text.size() > 2 &&
             cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, kFontScale, 1, &baseline).width > cell_width(l) - kPad)
        text = text.substr(0, text.size() - 2) + "~";  // shorten to fit the cell
      cv::putText(grid, text, cv::Point(x + kPad / 2, y + kLine * static_cast<int>(line + 1) - 3),
                  cv::FONT_HERSHEY_SIMPLEX, kFontScale, t.highlight && line > 0 ? kWrong : kText, 1, cv::LINE_AA);
    }
  }
  return grid;
}

void write_png(const cv::Mat& image, const std::string& path) {
  std::filesystem::create_directories(std::filesystem::absolute(path).parent_path());
  if (!cv::imwrite(path, image)) throw std::runtime_error("cannot write " + path);
}

}  // namespace trex::report
