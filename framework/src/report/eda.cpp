#include "trex/report/eda.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
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

}  // namespace

EdaResult write_eda(const ResolvedSpec& spec, const Registry& registry, const std::string& out_dir, std::size_t max_images) {
  EdaResult r;
  r.dir = out_dir;
  fs::create_directories(out_dir);
  auto data = registry.create_as<Dataset>(spec.data, {});
  const auto names = data->class_names();
  std::vector<Ref> all;
  std::vector<std::size_t> counts(names.size(), 0);
  std::map<std::string, std::size_t> per_split;
  for (const auto& split : data->splits()) {
    const auto& labels = data->labels(split);
    per_split[split] = labels.size();
    for (std::size_t i = 0; i < labels.size(); ++i) {
      all.push_back({split, i, labels[i]});
      if (labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < counts.size()) ++counts[static_cast<std::size_t>(labels[i])];
    }
  }
  if (all.empty()) throw std::runtime_error("dataset '" + spec.data.type + "' has no images");
  r.images_total = all.size();
  std::vector<Ref> sample = all;
  std::shuffle(sample.begin(), sample.end(), std::mt19937_64(mix_seed(spec.seed, 0xeda)));
  if (sample.size() > max_images) sample.resize(max_images);
  r.images_measured = sample.size();

  auto out = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };
  HtmlPage page("Dataset: " + spec.data.type + " (" + spec.name + ")");

  std::vector<Tile> tiles;
  for (std::size_t i = 0; i < std::min<std::size_t>(24, sample.size()); ++i)
    tiles.push_back({data->image(sample[i].split, sample[i].index), {names.at(static_cast<std::size_t>(sample[i].label)), sample[i].split}, false});
  r.sample_tiles = tiles.size();
  write_png(image_grid(tiles), out("samples.png"));

  Series sizes{"", {}, {}}, aspect{"width / height", {}, {}};
  std::vector<Series> channel_hist;
  std::size_t min_w = SIZE_MAX, max_w = 0, min_h = SIZE_MAX, max_h = 0, channels = 0;
  double sum_w = 0, sum_h = 0;
  std::vector<std::vector<double>> intensity;
  for (const auto& ref : sample) {
    const cv::Mat img = data->image(ref.split, ref.index);
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
  Chart scatter{Chart::Kind::Points, "image sizes", "width (pixels)", "height (pixels)", {sizes}, {}, {}, false};
  render(scatter, out("sizes.png"));
  Chart ratio{Chart::Kind::Histogram, "aspect ratios", "width / height", "images", {aspect}, {}, {}, false, false, 30};
  render(ratio, out("aspect_ratios.png"));

  std::vector<std::size_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return counts[a] > counts[b]; });
  Chart bars{Chart::Kind::Bars, fmt::format("images per class ({} classes, all splits)", names.size()), "class", "images", {{"", {}, {}}}};
  for (auto i : order) bars.categories.push_back(names[i]), bars.series[0].y.push_back(static_cast<double>(counts[i]));
  bars.width = std::max(900, static_cast<int>(names.size()) * 14);
  render(bars, out("class_distribution.png"));
  const std::size_t k = std::min<std::size_t>(10, names.size());
  Chart ends{Chart::Kind::Bars, fmt::format("the {} most and {} least frequent classes", k, k), "class", "images", {{"", {}, {}}}};
  std::vector<std::size_t> picked(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
  for (std::size_t i = std::max(k, order.size() - k); i < order.size(); ++i) picked.push_back(order[i]);
  for (auto i : picked) ends.categories.push_back(names[i]), ends.series[0].y.push_back(static_cast<double>(counts[i]));
  render(ends, out("class_extremes.png"));

  Chart hist{Chart::Kind::Histogram, "pixel intensities per channel", "intensity (0-255)", "pixels (every 7th)", {}, {}, {}, false, false, 64};
  const char* channel_names[] = {"red", "green", "blue", "alpha"};
  for (std::size_t c = 0; c < intensity.size(); ++c)
    hist.series.push_back({channels == 1 ? "gray" : channel_names[std::min<std::size_t>(c, 3)], intensity[c], {}});
  render(hist, out("channel_intensities.png"));

  r.summary = fmt::format(
      "dataset {}: {} images in {} ({}), {} classes, {} channel(s)\n"
      "sizes over {} sampled images: width {}..{} (mean {:.1f}), height {}..{} (mean {:.1f})\n"
      "images per class: min {} ({}), max {} ({}), mean {:.1f}\n",
      spec.data.type, all.size(), per_split.size() == 1 ? "1 split" : fmt::format("{} splits", per_split.size()),
      [&] {
        std::string s;
        for (const auto& [name, n] : per_split) s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n);
        return s;
      }(),
      names.size(), channels, sample.size(), min_w, max_w, sum_w / static_cast<double>(sample.size()), min_h, max_h,
      sum_h / static_cast<double>(sample.size()), counts[order.back()], names[order.back()], counts[order.front()],
      names[order.front()], static_cast<double>(all.size()) / static_cast<double>(names.size()));
  std::ofstream(out("summary.txt")) << r.summary;
  page.preformatted(r.summary)
      .figure("samples.png", "random images with their class and split")
      .figure("class_distribution.png", bars.title)
      .figure("class_extremes.png", ends.title)
      .figure("sizes.png", "image widths x heights (one point per sampled image)")
      .figure("aspect_ratios.png", "aspect ratios (width / height)")
      .figure("channel_intensities.png", hist.title);
  r.html = out("index.html");
  page.write(r.html);
  r.images = page.images();
  return r;
}

}  // namespace trex::report
