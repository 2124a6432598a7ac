#include "trex/store/cell_json.h"
#include "trex/report/run_report.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trex/config/spec.h"
#include "trex/store/store.h"
#include "trex/plugin/dataset.h"
#include "trex/report/chart.h"
#include "trex/report/html.h"
#include "trex/report/image_grid.h"

namespace fs = std::filesystem;

namespace trex::report {
namespace {

struct Prediction {
  std::size_t index;
  std::string split;
  std::int64_t label, predicted;
  double confidence;
};

std::vector<Prediction> read_predictions(const fs::path& csv) {
  std::vector<Prediction> out;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string f[5];
    for (auto& x : f) std::getline(s, x, ',');
    try {
      out.push_back({std::stoul(f[0]), f[1], std::stoll(f[2]), std::stoll(f[3]), std::stod(f[4])});
    } catch (const std::exception&) {
      throw std::runtime_error(csv.string() + ": unreadable row '" + line +
                               "' (expected index,split,label,predicted,confidence)");
    }
  }
  return out;
}

std::string class_name(const std::vector<std::string>& names, std::int64_t i) {
  return i >= 0 && static_cast<std::size_t>(i) < names.size() ? names[static_cast<std::size_t>(i)] : std::to_string(i);
}

Tile prediction_tile(const Dataset& data, const Prediction& p, const std::vector<std::string>& names) {
  return {data.image(p.split, p.index),
          {"Actual: " + class_name(names, p.label),
           fmt::format("Pred: {} ({:.2f})", class_name(names, p.predicted), p.confidence)},
          p.label != p.predicted};
}

class Builder {
 public:
  Builder(const Store& store, const Registry& registry, const std::string& ref, const std::string& out,
          std::shared_ptr<const Dataset> data)
      : store_(store), registry_(registry), run_(store.run(ref)), data_(std::move(data)) {
    result_.dir = out.empty() ? (fs::path(store.run_dir(run_.id, false)) / "report").string() : out;
    fs::create_directories(result_.dir);
    page_ = std::make_unique<HtmlPage>("Run " + run_.id + " (" + run_.name + ")");
  }

  ReportResult build() {
    page_->paragraph(fmt::format("status {}{}; experiment {}; seed {}", run_.status,
                                 run_.error.empty() ? "" : " (" + run_.error + ")", run_.experiment, run_.seed));
    curves();
    predictions();
    parameters();
    for (auto& chart : charts_) chart.get();  // drawn meanwhile; a failure surfaces here
    result_.html = (fs::path(result_.dir) / "index.html").string();
    page_->write(result_.html);
    result_.images = page_->images();
    nlohmann::json j{{"run", run_.id},
                     {"images", result_.images},
                     {"prediction_tiles", result_.prediction_tiles},
                     {"wrong_tiles", result_.wrong_tiles}};
    std::ofstream(fs::path(result_.dir) / "report.json") << json_text(j, 2) << "\n";
    return result_;
  }

 private:
  std::string path(const std::string& name) const { return (fs::path(result_.dir) / name).string(); }

  /// Each chart is its own gnuplot process (~80 ms): they run side by side while the page is built.
  template <typename Figure>
  void draw(Figure figure, const std::string& file) {
    const std::string title = figure.title;
    charts_.push_back(std::async(std::launch::async, [f = std::move(figure), png = path(file)] { render(f, png); }));
    page_->figure(file, title);
  }

  void curves() {
    std::map<std::string, std::map<std::string, Series>> by_name;  // metric -> split -> series
    std::int64_t last_epoch = 0;
    for (const auto& m : store_.metrics(run_.id)) {
      if (m.split == "test") continue;
      Series& s = by_name[m.name][m.split];
      s.title = m.split == "train" ? "train" : "validation";
      s.x.push_back(static_cast<double>(m.epoch));
      s.y.push_back(m.value);
      last_epoch = std::max(last_epoch, m.epoch);
    }
    if (by_name.empty()) {
      page_->paragraph("No epoch was recorded yet.");
      return;
    }
    std::vector<Marker> markers;
    const std::string main = run_.main_metric.empty() ? "val_accuracy" : run_.main_metric;
    for (const auto& s : store_.summaries(run_.id))
      if (s.key == main)
        markers.push_back({static_cast<double>(s.best_epoch), fmt::format("best {} (epoch {})", main, s.best_epoch)});
    std::int64_t planned = 0;
    for (const auto& p : store_.params(run_.id))
      if (p.key == "train.epochs") planned = std::stoll(p.value);
    if (run_.status == "completed" && planned > last_epoch)
      markers.push_back(
          {static_cast<double>(last_epoch), fmt::format("early stop (epoch {} of {})", last_epoch, planned)});
    else if (run_.status != "completed" && run_.status != "running")
      markers.push_back({static_cast<double>(last_epoch), run_.status + fmt::format(" (epoch {})", last_epoch)});
    page_->heading("Training curves");
    for (const auto& [name, splits] : by_name) {
      Chart c;
      c.title = name + " per epoch: train vs validation";
      c.xlabel = "epoch";
      c.ylabel = name == "loss" ? "loss (cross-entropy)" : name + " (fraction)";
      for (const char* split : {"train", "val"})
        if (splits.count(split)) c.series.push_back(splits.at(split));
      c.markers = markers;
      c.integer_x = last_epoch <= 30;
      draw(c, "curve_" + name + ".png");
    }
    const auto lrs = store_.learning_rates(run_.id);
    if (!lrs.empty()) {
      Chart c;
      c.title = "learning rate per epoch";
      c.xlabel = "epoch";
      c.ylabel = "learning rate (end of epoch)";
      Series s{"learning rate", {}, {}};
      for (const auto& [e, lr] : lrs) s.x.push_back(static_cast<double>(e)), s.y.push_back(lr);
      c.series.push_back(s);
      c.log_y = true;
      c.integer_x = last_epoch <= 30;
      draw(c, "learning_rate.png");
    }
  }

  void predictions() {
    const fs::path csv = fs::path(store_.run_dir(run_.id, false)) / "test_predictions.csv";
    if (!fs::exists(csv)) {
      page_->paragraph("No test predictions: the run has no test set, or did not finish.");
      return;
    }
    const auto preds = read_predictions(csv);
    const auto& names = run_.class_names;
    page_->heading("Test set");
    classification_report();

    std::vector<std::vector<double>> cm(names.size(), std::vector<double>(names.size(), 0));
    for (const auto& p : preds)
      if (p.label >= 0 && p.predicted >= 0 && static_cast<std::size_t>(p.label) < names.size() &&
          static_cast<std::size_t>(p.predicted) < names.size())
        cm[static_cast<std::size_t>(p.label)][static_cast<std::size_t>(p.predicted)] += 1;
    Heatmap h{"confusion matrix (test set, counts)", "predicted class", "actual class", names, names, cm};
    draw(h, "confusion_matrix.png");

    // The run that just trained passes its dataset; `trex report` builds it from the stored spec.
    std::shared_ptr<const Dataset> data = data_;
    if (!data) {
      const ResolvedSpec spec = load_spec_text(run_.spec_yaml, "run " + run_.id + " (stored spec)", registry_);
      data = registry_.create_as<Dataset>(spec.data, {});
    }
    std::vector<Prediction> sample = preds;
    std::shuffle(sample.begin(), sample.end(), std::mt19937_64(static_cast<std::uint64_t>(run_.seed)));
    sample.resize(std::min<std::size_t>(sample.size(), 24));
    std::vector<Tile> tiles;
    for (const auto& p : sample) tiles.push_back(prediction_tile(*data, p, names));
    result_.prediction_tiles = tiles.size();
    for (const auto& t : tiles) result_.wrong_tiles += t.highlight;
    write_png(image_grid(tiles), path("predictions.png"));
    page_->figure(
        "predictions.png",
        fmt::format("{} random test images: actual / predicted (confidence); wrong ones framed in red", tiles.size()));

    std::vector<Prediction> wrong;
    for (const auto& p : preds)
      if (p.label != p.predicted) wrong.push_back(p);
    std::stable_sort(wrong.begin(), wrong.end(),
                     [](const auto& a, const auto& b) { return a.confidence > b.confidence; });
    if (wrong.size() > 12) wrong.resize(12);
    if (!wrong.empty()) {
      std::vector<Tile> w;
      for (const auto& p : wrong) w.push_back(prediction_tile(*data, p, names));
      write_png(image_grid(w), path("confidently_wrong.png"));
      page_->figure("confidently_wrong.png", fmt::format("the {} most confidently wrong test predictions", w.size()));
    }
  }

  void classification_report() {
    auto e = store_.db().prepare(
        "SELECT id, checkpoint, examples FROM evaluations WHERE run_id = ? AND source = 'split:test' ORDER BY id DESC "
        "LIMIT 1");
    e.bind_all(run_.id);
    if (!e.step()) return;
    const std::int64_t id = e.integer(0);
    std::vector<std::vector<std::string>> rows;
    auto c = store_.db().prepare(
        "SELECT class_name, precision, recall, f1, support FROM evaluation_classes WHERE evaluation_id = ? ORDER BY "
        "class_index");
    c.bind_all(id);
    while (c.step())
      rows.push_back({c.text(0), fmt::format("{:.4f}", c.real(1)), fmt::format("{:.4f}", c.real(2)),
                      fmt::format("{:.4f}", c.real(3)), std::to_string(c.integer(4))});
    auto m = store_.db().prepare("SELECT name, value FROM evaluation_metrics WHERE evaluation_id = ? ORDER BY name");
    m.bind_all(id);
    std::string overall;
    while (m.step()) overall += (overall.empty() ? "" : ", ") + m.text(0) + fmt::format(" {:.4f}", m.real(1));
    page_->paragraph(fmt::format("{} test images, {} checkpoint: {}", e.integer(2), e.text(1), overall));
    page_->table({"class", "precision", "recall", "F1", "support"}, rows);
  }

  void parameters() {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : store_.params(run_.id))
      if (p.key.rfind("data.class_sizes.", 0) != 0) rows.push_back({p.key, p.value});
    page_->heading("Hyperparameters");
    page_->table({"parameter", "value"}, rows);
  }

  const Store& store_;
  const Registry& registry_;
  RunRecord run_;
  std::shared_ptr<const Dataset> data_;
  ReportResult result_;
  std::unique_ptr<HtmlPage> page_;
  std::vector<std::future<void>> charts_;
};

}  // namespace

ReportResult write_run_report(const Store& store, const Registry& registry, const std::string& run_ref,
                              const std::string& out_dir, std::shared_ptr<const Dataset> dataset) {
  return Builder(store, registry, run_ref, out_dir, std::move(dataset)).build();
}

}  // namespace trex::report
