// Reports: trex report / eda / plot write real, non-blank PNGs of the right
// size from the store and the dataset, and an HTML page that shows them all.
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "helpers.h"
#include "trex/store/run_diff.h"
#include "trex/store/store.h"
#include "trex/report/image_grid.h"
#include "trex/report/metric_plot.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::string digits_spec(double lr) {
  return "name: tiny_report\nseed: 3\ndata: {type: opencv_digits, per_class_limit: 30, test_fraction: 0.2, "
         "val_fraction: 0.2}\n"
         "model: {type: seed_cnn}\naugment: {train: [rescale], eval: [rescale]}\n"
         "train: {epochs: 3, batch_size: 32, threads: 1, optimizer: {type: adam, lr: " +
         std::to_string(lr) + "}}\n";
}

cv::Mat png(const fs::path& p) {
  INFO(p.string());
  REQUIRE(fs::exists(p));
  cv::Mat img = cv::imread(p.string(), cv::IMREAD_COLOR);
  REQUIRE(!img.empty());
  return img;
}

bool blank(const cv::Mat& img) {
  cv::Scalar mean, sd;
  cv::meanStdDev(img, mean, sd);
  return sd[0] + sd[1] + sd[2] < 1.0;
}

std::string run_id(const std::string& output) {
  const auto at = output.find("run ");
  REQUIRE(at != std::string::npos);
  return output.substr(at + 4, output.find(' ', at + 4) - at - 4);
}

}  // namespace

TEST_CASE("trex run writes a report - trex report and trex plot redraw it from the store", "[report][cli]") {
  TempDir d;
  const std::string store = d.file("s.db");
  std::vector<std::string> ids;
  for (double lr : {0.001, 0.01}) {
    write_file(d.file("s.yaml"), digits_spec(lr));
    auto r = run_command(trex_binary() + " run " + d.file("s.yaml") + " --store " + store);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    ids.push_back(run_id(r.output));
    CHECK_THAT(r.output, Contains("report: "));
  }
  // The automatic report of each run.
  for (const auto& id : ids) CHECK(fs::exists(d.path() / "runs" / id / "report" / "index.html"));

  const fs::path out = d.path() / "again";
  auto r = run_command(trex_binary() + " report " + ids[0] + " --store " + store + " --out " + out.string());
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto meta = nlohmann::json::parse(read_file((out / "report.json").string()));
  const std::string html = read_file((out / "index.html").string());
  std::set<std::string> listed;
  for (const auto& name : meta["images"]) listed.insert(name.get<std::string>());
  for (const char* name :
       {"curve_accuracy.png", "curve_loss.png", "learning_rate.png", "confusion_matrix.png", "predictions.png"})
    CHECK(listed.count(name));
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().extension() != ".png") continue;
    const std::string name = entry.path().filename().string();
    INFO(name);
    CHECK_THAT(html, Contains("src=\"" + name + "\""));  // the page shows every image
    const cv::Mat img = png(entry.path());
    CHECK(!blank(img));
    if (name.rfind("curve_", 0) == 0 || name == "learning_rate.png") CHECK((img.cols == 900 && img.rows == 560));
  }
  // 60 test images (30 per class x 10 classes x 0.2): a grid of 24.
  CHECK(meta["prediction_tiles"] == 24);
  const cv::Mat grid = png(out / "predictions.png");
  const cv::Size expected = report::grid_size(24);
  CHECK((grid.cols == expected.width && grid.rows == expected.height));
  CHECK_THAT(html, Contains("precision") && Contains("train.optimizer.lr"));

  // Two runs with different learning rates draw different curves.
  const cv::Mat a = png(d.path() / "runs" / ids[0] / "report" / "curve_accuracy.png");
  const cv::Mat b = png(d.path() / "runs" / ids[1] / "report" / "curve_accuracy.png");
  REQUIRE(a.size() == b.size());
  CHECK(cv::norm(a, b, cv::NORM_L1) > 0);

  auto p = run_command(trex_binary() + " plot " + ids[0] + " " + ids[1] + " --metric val_loss --store " + store +
                       " --out " + d.file("plot.png"));
  INFO(p.output);
  CHECK(p.exit_code == 0);
  CHECK(!blank(png(d.file("plot.png"))));
  Store s(store, true);
  CHECK(difference_labels(s, ids) == std::vector<std::string>{"optimizer.lr=0.001", "optimizer.lr=0.01"});
  auto bad = run_command(trex_binary() + " plot " + ids[0] + " --metric val_acc --store " + store);
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("none of the runs recorded 'val_acc'"));
}

TEST_CASE("trex eda draws a dataset's samples, sizes, classes and intensities", "[report][cli]") {
  TempDir d;
  write_file(d.file("s.yaml"), digits_spec(0.001));
  auto r = run_command(trex_binary() + " eda " + d.file("s.yaml") + " --out " + d.file("eda") + " --max-images 500");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // opencv_digits: all 5,000 digits (the spec's limits pick training subsets, not what the dataset holds).
  CHECK_THAT(r.output, Contains("5000 images") && Contains("10 classes") && Contains("width 20..20"));
  const std::string html = read_file(d.file("eda/index.html"));
  for (const char* name : {"samples.png", "sizes.png", "aspect_ratios.png", "class_distribution.png",
                           "class_extremes.png", "channel_intensities.png"}) {
    INFO(name);
    CHECK(!blank(png(d.path() / "eda" / name)));
    CHECK_THAT(html, Contains(std::string("src=\"") + name + "\""));
  }
  const cv::Mat samples = png(d.path() / "eda" / "samples.png");
  CHECK((samples.cols == report::grid_size(24).width && samples.rows == report::grid_size(24).height));
}
