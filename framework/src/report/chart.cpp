#include "trex/report/chart.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "trex/common/child_process.h"

namespace fs = std::filesystem;

namespace trex::report {
namespace {}  // namespace

// Single quotes are gnuplot's inert strings: no backquote (shell) or macro
// substitution and no backslash escapes; a quote is doubled. Control
// characters (a newline would end the command) become spaces. Noenhanced mode
// keeps _ and ^ literal.
std::string gnuplot_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

namespace {

std::string quoted(const std::string& s) { return gnuplot_quoted(s); }

/// A data-file cell: the tab separator and line ends would split the record.
std::string data_cell(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

class Scratch {
 public:
  Scratch() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("trex-chart-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

std::string header(int width, int height, const std::string& png, const std::string& title, const std::string& xlabel,
                   const std::string& ylabel) {
  std::ostringstream s;
  s << "set terminal pngcairo size " << width << "," << height << " font 'DejaVu Sans,11' noenhanced\n"
    << "set output " << quoted(png) << "\n"
    << "set title " << quoted(title) << " font ',13'\n"
    << "set xlabel " << quoted(xlabel) << "\nset ylabel " << quoted(ylabel) << "\n"
    << "set grid lc rgb '#dddddd'\nset border lc rgb '#555555'\nset key below box\nset bmargin 6\n"
    << "set datafile separator '\\t'\n";
  return s.str();
}

void run_gnuplot(const std::string& script_text, const Scratch& scratch, const std::string& png) {
  const std::string script = scratch.file("chart.gp"), err = scratch.file("err.txt");
  std::ofstream(script) << script_text;
  fs::create_directories(fs::absolute(png).parent_path());
  // No shell between us and gnuplot: the script path is an argument.
  const pid_t pid = start_child(
      "/usr/bin/env", {"env", "gnuplot", script},
      [&err] {
        const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) dup2(fd, 2), dup2(fd, 1);
      },
      "gnuplot");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 127)
    throw std::runtime_error("charts need the gnuplot command; install gnuplot-nox (tools/setup.sh does)");
  if (code != 0 || !fs::exists(png)) {
    std::ifstream in(err);
    std::stringstream msg;
    msg << in.rdbuf();
    throw std::runtime_error("gnuplot could not draw " + png + ": " + msg.str());
  }
}

}  // namespace

namespace {

/// Vertical lines with labels (e.g. the best epoch); labels stay inside the
/// plot: left of a line in the right half, stacked.
void write_markers(const Chart& c, double x_lo, double x_hi, std::ostream& s) {
  for (std::size_t i = 0; i < c.markers.size(); ++i) {
    const Marker& m = c.markers[i];
    const bool right_half = x_hi > x_lo && m.x > 0.5 * (x_lo + x_hi);
    s << "set arrow from " << m.x << ", graph 0 to " << m.x << ", graph 1 nohead dt 2 lw 1.5 lc rgb '#888888'\n";
    s << "set label " << quoted(m.label) << " at " << m.x << ", graph " << 0.96 - 0.06 * static_cast<double>(i)
      << (right_half ? " offset -0.5,0 right" : " offset 0.5,0 left") << " textcolor rgb '#555555'\n";
  }
}

/// Writes one series' data file and returns its plot clause ("" when it draws nothing); settings it needs go to `s`.
std::string plot_series(const Chart& c, const Series& ser, const std::string& data, std::ostream& s) {
  std::ofstream out(data);
  out.precision(10);
  const std::string title = ser.title.empty() ? "notitle" : "title " + quoted(ser.title);
  switch (c.kind) {
    case Chart::Kind::Lines:
    case Chart::Kind::Points:
      for (std::size_t k = 0; k < ser.x.size(); ++k) out << ser.x[k] << "\t" << ser.y[k] << "\n";
      return quoted(data) +
             (c.kind == Chart::Kind::Lines ? " using 1:2 with linespoints lw 2 pt 7 ps 0.6 "
                                           : " using 1:2 with points pt 7 ps 0.5 ") +
             title;
    case Chart::Kind::Histogram: {
      std::vector<double> xs;
      for (double v : ser.x)
        if (std::isfinite(v)) xs.push_back(v);
      if (xs.empty()) return "";
      const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
      const double width = *hi > *lo ? (*hi - *lo) / c.bins : 1.0;
      std::vector<double> counts(static_cast<std::size_t>(c.bins) + 1, 0);
      for (double v : xs) counts[static_cast<std::size_t>(std::floor((v - *lo) / width))] += 1;
      for (std::size_t b = 0; b < counts.size(); ++b)
        out << *lo + (static_cast<double>(b) + 0.5) * width << "\t" << counts[b] << "\n";
      s << "set style fill transparent solid 0.5 border\nset boxwidth " << width << " absolute\n";
      return quoted(data) + " using 1:2 with boxes " + title;
    }
    case Chart::Kind::Bars:
      for (std::size_t k = 0; k < ser.y.size(); ++k)
        out << k << "\t" << ser.y[k] << "\t" << (k < c.categories.size() ? data_cell(c.categories[k]) : "") << "\n";
      s << "set style fill solid 0.7 border\nset boxwidth 0.7 relative\nset xtics rotate by -45 left\nset yrange "
           "[0:*]\n"
        << "set xrange [-0.6:" << static_cast<double>(ser.y.size()) - 0.4 << "]\n";
      return quoted(data) + " using 1:2:xtic(3) with boxes " + title;
  }
  return "";
}

}  // namespace

void render(const Chart& c, const std::string& png) {
  Scratch scratch;
  std::ostringstream s;
  s << header(c.width, c.height, png, c.title, c.xlabel, c.ylabel);
  if (c.log_y) s << "set logscale y\n";
  if (c.integer_x) s << "set xtics 1\nset mxtics 1\nset format x '%.0f'\n";
  if (c.series.size() <= 1 && c.kind != Chart::Kind::Lines) s << "unset key\n";
  double x_lo = 1e300, x_hi = -1e300;
  for (const auto& ser : c.series)
    for (double x : ser.x)
      if (std::isfinite(x)) x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
  write_markers(c, x_lo, x_hi, s);
  if (c.kind == Chart::Kind::Histogram && x_hi >= x_lo) {
    const double pad = x_hi > x_lo ? (x_hi - x_lo) / c.bins : 0.5;
    s << "set xrange [" << x_lo - pad << ":" << x_hi + 2 * pad << "]\n";
  }
  std::vector<std::string> plots;
  for (std::size_t i = 0; i < c.series.size(); ++i)
    if (std::string p = plot_series(c, c.series[i], scratch.file("s" + std::to_string(i) + ".tsv"), s); !p.empty())
      plots.push_back(p);
  if (plots.empty()) throw std::runtime_error("nothing to draw in '" + c.title + "'");
  s << "plot ";
  for (std::size_t i = 0; i < plots.size(); ++i) s << (i ? ", \\\n     " : "") << plots[i];
  s << "\n";
  run_gnuplot(s.str(), scratch, png);
}

void render(const Heatmap& h, const std::string& png) {
  Scratch scratch;
  std::ostringstream s;
  s << header(h.width, h.height, png, h.title, h.xlabel, h.ylabel);
  const std::size_t rows = h.values.size(), cols = rows ? h.values[0].size() : 0;
  double top = 0;
  for (const auto& r : h.values)
    for (double v : r) top = std::max(top, v);
  s << "unset key\nset palette defined (0 '#ffffff', 1 '#2166ac')\nset cbrange [0:" << std::max(top, 1.0) << "]\n"
    << "set xrange [-0.5:" << static_cast<double>(cols) - 0.5 << "]\nset yrange [" << static_cast<double>(rows) - 0.5
    << ":-0.5]\nset xtics rotate by -45 left\nset tics scale 0\nunset grid\n";
  s << "set xtics (";
  for (std::size_t c = 0; c < cols; ++c) s << (c ? ", " : "") << quoted(h.column_labels.at(c)) << " " << c;
  s << ")\nset ytics (";
  for (std::size_t r = 0; r < rows; ++r) s << (r ? ", " : "") << quoted(h.row_labels.at(r)) << " " << r;
  s << ")\n";
  const std::string data = scratch.file("m.tsv");
  {
    std::ofstream out(data);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) out << c << "\t" << r << "\t" << h.values[r][c] << "\n";
  }
  // Counts on the cells, white on dark ones.
  s << "plot " << quoted(data) << " using 1:2:3 with image, \\\n     " << quoted(data)
    << " using 1:2:(sprintf('%g', $3)):($3 > " << top / 2 << " ? 0xffffff : 0x222222) with labels tc rgb variable\n";
  run_gnuplot(s.str(), scratch, png);
}

}  // namespace trex::report
