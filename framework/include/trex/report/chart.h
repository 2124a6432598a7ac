#pragma once
// Charts drawn by gnuplot (pngcairo terminal): line, scatter, histogram and
// bar charts, and annotated heat maps. We describe the chart; gnuplot lays
// out axes, ticks, legends and text. Needs the `gnuplot` command
// (Debian's gnuplot-nox; tools/setup.sh installs it).
#include <string>
#include <vector>

namespace trex::report {

struct Series {
  std::string title;  ///< legend entry ("" for none)
  std::vector<double> x, y;
};

/// A vertical line at x with a label, e.g. the best epoch.
struct Marker {
  double x;
  std::string label;
};

struct Chart {
  enum class Kind { Lines, Points, Histogram, Bars } kind = Kind::Lines;
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  std::vector<Marker> markers;
  std::vector<std::string> categories;  ///< Bars: one label per bar (series[0].y holds the heights)
  bool log_y = false;
  bool integer_x = false;  ///< ticks at whole numbers only (epochs)
  int bins = 30;           ///< Histogram: series[i].x holds the samples
  int width = 900, height = 560;
};

struct Heatmap {
  std::string title, xlabel, ylabel;
  std::vector<std::string> row_labels, column_labels;
  std::vector<std::vector<double>> values;  ///< [row][column]
  int width = 900, height = 800;
};

/// `text` as a gnuplot string that stays text: single-quoted (no backquote
/// or macro substitution there), quotes doubled, control characters blanked.
std::string gnuplot_quoted(const std::string& text);

/// Writes `png`; throws with gnuplot's own message if it fails.
void render(const Chart& chart, const std::string& png);
void render(const Heatmap& heatmap, const std::string& png);

}  // namespace trex::report
