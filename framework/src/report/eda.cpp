#include "trex/report/eda.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trex/config/splits.h"
#include "trex/plugin/dataset.h"
#include "trex/report/chart.h"
#include "trex/report/html.h"
#include "trex/report/image_grid.h"

namespace fs = std::filesystem;

namespace trex::report {
namespace {

struct Ref {
  std::string split;
  std::size_t index;
  std::int64_t label;
};

/// What the dataset holds: every image's reference, images per class and per split.
struct Inventory {
  std::vector<std::string> names;
  std::vector<Ref> all;
  std::vector<std::size_t> counts;
  std::map<std::string, std::size_t> per_split;
  std::vector<std::size_t> order;  ///< classes, most frequent first

  explicit Inventory(const Dataset& data) : names(data.class_names()), counts(names.size(), 0) {
    for (const auto& split : data.splits()) {
      const auto& labels = data.labels(split);
      per_split[split] = labels.size();
      for (std::size_t i = 0; i < labels.size(); ++i) {
        all.push_back({split, i, labels[i]});
        if (labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < counts.size())
          ++counts[static_cast<std::size_t>(labels[i])];
      }
    }
    order.resize(names.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return counts[a] > counts[b]; });
  }
  std::string splits_text() const {
    std::string s;
    for (const auto& [name, n] : per_split) s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n);
    return s;
  }
};

/// Sizes and pixel intensities of the sampled images.
struct Measures {
  Series sizes{"", {}, {}}, aspect{"width / height", {}, {}};
  std::size_t min_w = SIZE_MAX, max_w = 0, min_h = SIZE_MAX, max_h = 0, channels = 0;
  double sum_w = 0, sum_h = 0;
  std::vector<std::vector<double>> intensity;

  void add(const cv::Mat& img) {
    const auto w = static_cast<std::size_t>(img.cols), h = static_cast<std::size_t>(img.rows);
    sizes.x.push_back(static_cast<double>(w));  // width is columns
    sizes.y.push_back(static_cast<double>(h));
    aspect.x.push_back(static_cast<double>(w) / static_cast<double>(h));
    min_w = std::min(min_w, w), max_w = std::max(max_w, w), min_h = std::min(min_h, h), max_h = std::max(max_h, h);
    sum_w += static_cast<double>(w), sum_h += static_cast<double>(h);
    channels = static_cast<std::size_t>(img.channels());
    intensity.resize(channels);
    // Every 7th pixel keeps the histograms honest and cheap on big images.
    const auto* p = img.ptr<unsigned char>();
    const std::size_t n = img.total() * channels;
    for (std::size_t k = 0; k < n; k += 7 * channels)
      for (std::size_t c = 0; c < channels; ++c) intensity[c].push_back(p[k + c]);
  }
};

/// The class-frequency bar charts; returns their titles.
std::pair<std::string, std::string> class_charts(const Inventory& inv,
                                                 const std::function<std::string(const std::string&)>& out) {
  const auto& names = inv.names;
  Chart bars{Chart::Kind::Bars,
             fmt::format("images per class ({} classes, all splits)", names.size()),
             "class",
             "images",
             {{"", {}, {}}}};
  for (auto i : inv.order)
    bars.categories.push_back(names[i]), bars.series[0].y.push_back(static_cast<double>(inv.counts[i]));
  bars.width = std::max(900, static_cast<int>(names.size()) * 14);
  render(bars, out("class_distribution.png"));
  const std::size_t k = std::min<std::size_t>(10, names.size());
  Chart ends{Chart::Kind::Bars,
             fmt::format("the {} most and {} least frequent classes", k, k),
             "class",
             "images",
             {{"", {}, {}}}};
  std::vector<std::size_t> picked(inv.order.begin(), inv.order.begin() + static_cast<std::ptrdiff_t>(k));
  for (std::size_t i = std::max(k, inv.order.size() - k); i < inv.order.size(); ++i) picked.push_back(inv.order[i]);
  for (auto i : picked)
    ends.categories.push_back(names[i]), ends.series[0].y.push_back(static_cast<double>(inv.counts[i]));
  render(ends, out("class_extremes.png"));
  return {bars.title, ends.title};
}

/// Scatter of sizes, aspect ratios and per-channel intensities; returns the histogram's title.
std::string measure_charts(const Measures& m, const std::function<std::string(const std::string&)>& out) {
  render(Chart{Chart::Kind::Points, "image sizes", "width (pixels)", "height (pixels)", {m.sizes}, {}, {}, false},
         out("sizes.png"));
  render(
      Chart{Chart::Kind::Histogram, "aspect ratios", "width / height", "images", {m.aspect}, {}, {}, false, false, 30},
      out("aspect_ratios.png"));
  Chart hist{Chart::Kind::Histogram,
             "pixel intensities per channel",
             "intensity (0-255)",
             "pixels (every 7th)",
             {},
             {},
             {},
             false,
             false,
             64};
  const char* channel_names[] = {"red", "green", "blue", "alpha"};
  for (std::size_t c = 0; c < m.intensity.size(); ++c)
    hist.series.push_back({m.channels == 1 ? "gray" : channel_names[std::min<std::size_t>(c, 3)], m.intensity[c], {}});
  render(hist, out("channel_intensities.png"));
  return hist.title;
}

}  // namespace

EdaResult write_eda(const ResolvedSpec& spec, const Registry& registry, const std::string& out_dir,
                    std::size_t max_images) {
  EdaResult r;
  r.dir = out_dir;
  fs::create_directories(out_dir);
  auto data = registry.create_as<Dataset>(spec.data, {});
  const Inventory inv(*data);
  if (inv.all.empty()) throw std::runtime_error("dataset '" + spec.data.type + "' has no images");
  r.images_total = inv.all.size();
  std::vector<Ref> sample = inv.all;
  std::shuffle(sample.begin(), sample.end(), std::mt19937_64(mix_seed(spec.seed, 0xeda)));
  if (sample.size() > max_images) sample.resize(max_images);
  r.images_measured = sample.size();
  const auto out = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };

  std::vector<Tile> tiles;
  for (std::size_t i = 0; i < std::min<std::size_t>(24, sample.size()); ++i)
    tiles.push_back({data->image(sample[i].split, sample[i].index),
                     {inv.names.at(static_cast<std::size_t>(sample[i].label)), sample[i].split},
                     false});
  r.sample_tiles = tiles.size();
  write_png(image_grid(tiles), out("samples.png"));
  Measures m;
  for (const auto& ref : sample) m.add(data->image(ref.split, ref.index));
  const std::string hist_title = measure_charts(m, out);
  const auto [bars_title, ends_title] = class_charts(inv, out);

  const auto n = static_cast<double>(sample.size());
  r.summary = fmt::format(
      "dataset {}: {} images in {} ({}), {} classes, {} channel(s)\n"
      "sizes over {} sampled images: width {}..{} (mean {:.1f}), height {}..{} (mean {:.1f})\n"
      "images per class: min {} ({}), max {} ({}), mean {:.1f}\n",
      spec.data.type, inv.all.size(),
      inv.per_split.size() == 1 ? "1 split" : fmt::format("{} splits", inv.per_split.size()), inv.splits_text(),
      inv.names.size(), m.channels, sample.size(), m.min_w, m.max_w, m.sum_w / n, m.min_h, m.max_h, m.sum_h / n,
      inv.counts[inv.order.back()], inv.names[inv.order.back()], inv.counts[inv.order.front()],
      inv.names[inv.order.front()], static_cast<double>(inv.all.size()) / static_cast<double>(inv.names.size()));
  std::ofstream(out("summary.txt")) << r.summary;
  HtmlPage page("Dataset: " + spec.data.type + " (" + spec.name + ")");
  page.preformatted(r.summary)
      .figure("samples.png", "random images with their class and split")
      .figure("class_distribution.png", bars_title)
      .figure("class_extremes.png", ends_title)
      .figure("sizes.png", "image widths x heights (one point per sampled image)")
      .figure("aspect_ratios.png", "aspect ratios (width / height)")
      .figure("channel_intensities.png", hist_title);
  r.html = out("index.html");
  page.write(r.html);
  r.images = page.images();
  return r;
}

}  // namespace trex::report
