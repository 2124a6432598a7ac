// Using a trained run: predict, evaluate, export (C++ and Python load it), activations.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/script.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/inference/activations.h"
#include "trex/inference/export.h"
#include "trex/inference/predict.h"
#include "trex/common/classification_report.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

const char* kSpec = R"(name: use
seed: 5
data: {type: fashion_mnist, limit: 600, val_fraction: 0.1}
augment: {train: [{type: random_flip}, normalize], eval: [normalize]}
model: {type: seed_cnn}
train: {epochs: 2, batch_size: 64, threads: 2}
)";

/// One trained run shared by the tests of this file.
struct Fixture {
  TempDir dir;
  std::string store_path = dir.file("trex.db");
  std::string run_id;
  Fixture() {
    const std::string spec = write_file(dir.file("use.yaml"), kSpec);
    auto r = run_command(trex_binary() + " run " + spec + " -q --store " + store_path);
    if (r.exit_code != 0) throw std::runtime_error(r.output);
    run_id = Store(store_path, true).runs().back().id;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

struct StoredPrediction {
  std::size_t index;
  std::int64_t label, predicted;
  double confidence;
};

std::vector<StoredPrediction> stored_predictions(const Fixture& f) {
  std::istringstream in(read_file(f.dir.file("runs/" + f.run_id + "/test_predictions.csv")));
  std::string line;
  std::getline(in, line);  // header: index,split,label,predicted,confidence
  std::vector<StoredPrediction> out;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    out.push_back({std::stoul(cells[0]), std::stoll(cells[2]), std::stoll(cells[3]), std::stod(cells[4])});
  }
  return out;
}

}  // namespace

TEST_CASE("the classification report follows scikit-learn's definitions", "[use]") {
  // y_true = [0,0,1,1,2,2], y_pred = [0,1,1,1,2,0]; sklearn gives these by hand:
  // class 0: P = 1/2, R = 1/2; class 1: P = 2/3, R = 1; class 2: P = 1, R = 1/2.
  auto r = classification_report({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 2, 0}, {"a", "b", "c"});
  CHECK_THAT(r.accuracy, WithinAbs(4.0 / 6, 1e-12));
  CHECK_THAT(r.classes[0].precision, WithinAbs(0.5, 1e-12));
  CHECK_THAT(r.classes[1].precision, WithinAbs(2.0 / 3, 1e-12));
  CHECK_THAT(r.classes[1].recall, WithinAbs(1.0, 1e-12));
  CHECK_THAT(r.classes[1].f1, WithinAbs(0.8, 1e-12));
  CHECK_THAT(r.classes[2].f1, WithinAbs(2.0 / 3, 1e-12));
  CHECK_THAT(r.macro.f1, WithinAbs((0.5 + 0.8 + 2.0 / 3) / 3, 1e-12));
  CHECK(r.classes[2].support == 2);
  CHECK(r.confusion[2][0] == 1);
  auto empty_class = classification_report({0, 0}, {0, 0}, {"a", "b"});
  CHECK(empty_class.classes[1].precision == 0);  // 0/0 is 0, as sklearn's zero_division default warns
}

TEST_CASE("predict on image files gives the run's stored test predictions", "[use]") {
  auto& f = fixture();
  Store store(f.store_path, true);
  auto registry = std::make_shared<Registry>(std::vector<std::string>{plugin_dir()});
  TrainedRun run(store, *registry, f.run_id);
  const auto stored = stored_predictions(f);
  REQUIRE(stored.size() == 600);
  // Write 40 test images as PNG files, as a user would have them.
  std::vector<std::string> files;
  for (std::size_t i = 0; i < 40; ++i) {
    const std::string file = f.dir.file("images/" + std::to_string(i) + ".png");
    fs::create_directories(fs::path(file).parent_path());
    REQUIRE(cv::imwrite(file, run.parts().dataset->image("test", stored[i].index)));
    files.push_back(file);
  }
  write_file(f.dir.file("images/broken.png"), "not a png");
  auto r = run_command(trex_binary() + " predict " + f.run_id + " " + f.dir.file("images") +
                       " --top 2 --format csv --store " + f.store_path);
  CHECK(r.exit_code == 3);  // one input failed
  CHECK_THAT(r.output, Contains("skipped " + f.dir.file("images/broken.png") + ": OpenCV cannot decode it"));
  auto rows = run.predict_files(files, 2, 16);
  REQUIRE(rows.size() == 40);
  for (std::size_t i = 0; i < 40; ++i) {
    INFO(i);
    REQUIRE(rows[i].error.empty());
    CHECK(rows[i].top[0].index == stored[i].predicted);
    CHECK_THAT(rows[i].top[0].probability, WithinAbs(stored[i].confidence, 1e-5));
    // The CLI printed the same class for this file.
    CHECK_THAT(r.output, Contains(files[i] + ",," +
                                  run.parts().class_names[static_cast<std::size_t>(stored[i].predicted)] + ","));
  }
}

TEST_CASE("predict --evaluate recomputes the metrics and stores an evaluation, not a run", "[use]") {
  auto& f = fixture();
  auto r = run_command(trex_binary() + " predict " + f.run_id + "@last --data test --evaluate --top 3 --store " +
                       f.store_path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("precision") && Contains("Ankle boot") && Contains("weighted avg"));
  // Accuracy recomputed from the stored per-example predictions by this test.
  const auto stored = stored_predictions(f);
  double correct = 0;
  for (const auto& p : stored) correct += p.label == p.predicted;
  Store s(f.store_path, true);
  CHECK(s.runs().size() == 1);
  auto q = s.db().prepare(
      "SELECT e.checkpoint, e.source, e.examples, m.value FROM evaluations e JOIN evaluation_metrics m "
      "ON m.evaluation_id = e.id AND m.name = 'accuracy' WHERE e.run_id = ? ORDER BY e.id DESC LIMIT 1");
  q.bind_all(f.run_id);
  REQUIRE(q.step());
  CHECK(q.text(0) == "last");
  CHECK(q.text(1) == "split:test");
  CHECK(q.integer(2) == 600);
  // Test predictions came from the best checkpoint; with two epochs, best may be last or not.
  const std::string best_or_last = read_file(f.dir.file("runs/" + f.run_id + "/checkpoints/best.pt")) ==
                                           read_file(f.dir.file("runs/" + f.run_id + "/checkpoints/last.pt"))
                                       ? "same"
                                       : "different";
  if (best_or_last == "same") CHECK_THAT(q.real(3), WithinAbs(correct / 600, 1e-12));
  auto classes = s.db().prepare(
      "SELECT COUNT(*), SUM(support) FROM evaluation_classes WHERE evaluation_id = (SELECT MAX(id) FROM evaluations)");
  classes.step();
  CHECK(classes.integer(0) == 10);
  CHECK(classes.integer(1) == 600);
}

TEST_CASE("a TorchScript export matches trex's forward in C++ and in Python", "[use]") {
  auto& f = fixture();
  Store store(f.store_path, true);
  Registry registry({plugin_dir()});
  TrainedRun run(store, registry, f.run_id + "@best");
  const std::string model = f.dir.file("export/model.pt");
  auto r = run_command(trex_binary() + " export " + f.run_id + "@best --format torchscript --out " + model +
                       " --store " + f.store_path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(read_file(f.dir.file("export/model.json")), Contains("\"Ankle boot\"") && Contains("\"height\": 28"));
  CHECK_THAT(read_file(f.dir.file("export/model.json")),
             Contains("\"run_precision\": \"" + run.run_precision().describe()));
  // The export computes in fp32 whatever precision the run trained in; compare like with like.
  run.use_precision(Precision{});
  torch::manual_seed(1);
  auto batch = torch::randn({5, 1, 28, 28});
  auto expected = run.logits(batch);
  auto loaded = torch::jit::load(model);
  loaded.eval();
  torch::NoGradGuard no_grad;
  auto got = loaded.forward({batch}).toTensor();
  CHECK(torch::allclose(got, expected, 1e-5, 1e-5));

  INFO("the Python half needs Debian's python3-torch; tools/setup.sh installs it");
  REQUIRE(python_has("torch"));
  auto save = [&](const at::Tensor& t, const std::string& name) {
    auto bytes = torch::pickle_save(t);
    std::ofstream(f.dir.file(name), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  save(batch, "input.pt");
  save(expected, "expected.pt");
  const std::string script = write_file(f.dir.file("check.py"), R"(import sys, torch
d = sys.argv[1]
m = torch.jit.load(d + '/export/model.pt'); m.eval()
x = torch.load(d + '/input.pt'); want = torch.load(d + '/expected.pt')
with torch.no_grad(): got = m(x)
print('maxdiff', float((got - want).abs().max()))
sd = torch.load(d + '/export/state.pt')
print('keys', ' '.join(sorted(sd)))
print('statediff', float((sd['conv1.weight'] - torch.load(d + '/conv1.pt')).abs().max()))
)");
  auto s = run_command(trex_binary() + " export " + f.run_id + " --format state_dict --out " +
                       f.dir.file("export/state.pt") + " --store " + f.store_path);
  REQUIRE(s.exit_code == 0);
  save(run.parts().module->named_parameters()["conv1.weight"].detach(), "conv1.pt");
  auto py = run_command("/usr/bin/python3 " + script + " " + f.dir.str());
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  std::istringstream lines(py.output);
  std::string word;
  double maxdiff = 1, statediff = 1;
  while (lines >> word) {
    if (word == "maxdiff") lines >> maxdiff;
    if (word == "statediff") lines >> statediff;
  }
  CHECK(maxdiff <= 1e-5);
  CHECK(statediff == 0);
  CHECK_THAT(py.output, Contains("bn.running_mean") && Contains("classifier.weight") && Contains("fc1.bias"));
}

TEST_CASE("activation grids have one tile per channel, each the normalised feature map", "[use]") {
  auto& f = fixture();
  Store store(f.store_path, true);
  Registry registry({plugin_dir()});
  TrainedRun run(store, registry, f.run_id);
  const std::string image = f.dir.file("one.png");
  REQUIRE(cv::imwrite(image, run.parts().dataset->image("test", 3)));
  auto r = run_command(trex_binary() + " activations " + f.run_id + " " + image + " --layer conv2 --out " +
                       f.dir.file("act") + " --store " + f.store_path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  cv::Mat grid = cv::imread(f.dir.file("act/one_conv2.png"), cv::IMREAD_GRAYSCALE);
  REQUIRE_FALSE(grid.empty());
  // Directly: the same preprocessing and the model's output after conv2.
  Rng unused(0);
  cv::Mat img = run.parts().eval_pipeline.apply(run.load_image(image), unused);
  auto x = torch::from_blob(img.ptr<float>(), {1, 1, 28, 28}, torch::kFloat).clone();
  torch::NoGradGuard no_grad;
  auto act = run.parts().model->forward_until(x, "conv2");
  auto tiles = activation_tiles(act);
  REQUIRE(tiles.size() == 32);
  // Tile 7 is channel 7, min-max normalised to 0..255.
  auto plane = act[0][7];
  const float lo = plane.min().item<float>(), hi = plane.max().item<float>();
  for (int y = 0; y < 26; y += 5)
    for (int xx = 0; xx < 26; xx += 5) {
      const double want = hi > lo ? (plane[y][xx].item<float>() - lo) * 255.0 / (hi - lo) : 0;
      CHECK_THAT(static_cast<double>(tiles[7].at<std::uint8_t>(y, xx)), WithinAbs(want, 0.51));
    }
  // The saved grid shows the 32 tiles (6 x 6 layout, 26 px scaled x3 = 78 px, 2 px gaps) under a title bar.
  CHECK(grid.cols == 6 * (78 + 2));
  CHECK(grid.rows == 28 + 6 * (78 + 2));
  cv::Mat tile7 = grid(cv::Rect((7 % 6) * 80, 28 + (7 / 6) * 80, 78, 78));
  cv::Mat small;
  cv::resize(tile7, small, {26, 26}, 0, 0, cv::INTER_NEAREST);
  CHECK(cv::norm(small, tiles[7], cv::NORM_INF) == 0);
  auto list = run_command(trex_binary() + " activations " + f.run_id + " --list --store " + f.store_path);
  CHECK_THAT(list.output, Contains("conv2  [1, 32, 26, 26]") && Contains("classifier  [1, 10]"));
}
