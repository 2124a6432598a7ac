// The plugin contract, over every plugin the build produced: each loads,
// describes itself, builds from its defaults and survives one call.
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "cifar_files.h"
#include "helpers.h"
#include "trex/data/loader.h"
#include "trex/config/spec.h"
#include "trex/plugin/metric.h"
#include "trex/plugin/model.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

const Registry& registry() { return built_plugins(); }

/// Datasets whose data no Debian package ships read files the test writes in their real format.
std::map<std::string, std::string> data_roots() {
  static TempDir cifar, folder;
  static bool written = (write_cifar10(cifar.str()), write_image_folder(folder.str()), true);
  (void)written;
  return {{"cifar", cifar.str()}, {"image_folder", folder.str()}};
}

ResolvedPlugin defaults_of(Kind kind, const std::string& name) {
  Node n = Node::map();
  n.set("type", Node::scalar(name));
  if (kind == Kind::Dataset && data_roots().count(name)) n.set("root", Node::scalar(data_roots().at(name), true));
  Diagnostics diag;
  auto r = registry().resolve(kind, n, "x", diag);
  INFO(name << ": " << (diag.empty() ? "" : diag.issues()[0].format()));
  REQUIRE(r);
  return *r;
}

/// A random 8-bit image batch shaped like a small dataset's.
cv::Mat sample_image(int channels, std::uint64_t seed) {
  cv::Mat m(12, 10, CV_8UC(channels));
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 255);
  return m;
}

}  // namespace

TEST_CASE("every built plugin loads and describes itself", "[contract]") {
  REQUIRE(registry().problems().empty());
  REQUIRE(registry().plugins().size() >= 10);
  for (const auto* r : registry().plugins()) {
    const Descriptor& d = *r->descriptor;
    INFO(r->path);
    CHECK(d.abi_version == TREX_ABI_VERSION);
    CHECK_FALSE(d.name.empty());
    CHECK(std::count(d.version.begin(), d.version.end(), '.') == 2);  // semantic version
    CHECK_FALSE(d.summary.empty());
    for (const auto& p : d.params) {
      CHECK_FALSE(p.doc.empty());
      if (p.default_value) CHECK(type_of(*p.default_value) == p.type);
    }
    if (d.kind == Kind::Model) {
      CHECK_FALSE(d.model.classifier.empty());
      CHECK(d.model.input_height > 0);
    }
  }
}

TEST_CASE("every dataset yields images of its declared shape and valid labels", "[contract]") {
  for (const auto* r : registry().plugins(Kind::Dataset)) {
    INFO(r->descriptor->name);
    auto ds = registry().create_as<Dataset>(defaults_of(Kind::Dataset, r->descriptor->name), {});
    const auto shape = ds->shape();
    const auto& labels = ds->labels("train");
    CHECK_FALSE(labels.empty());
    if (labels.empty()) continue;  // the next plugin is still checked
    for (std::size_t i : {std::size_t{0}, labels.size() / 2, labels.size() - 1}) {
      cv::Mat img = ds->image("train", i);
      CHECK(img.rows == shape.height);
      CHECK(img.cols == shape.width);
      CHECK(img.channels() == shape.channels);
      CHECK(labels[i] >= 0);
      CHECK(labels[i] < static_cast<std::int64_t>(ds->class_names().size()));
    }
    // A batch through the loader has the declared shape.
    DataOptions o;
    o.limit = 20;
    o.val_fraction = 0;
    auto plan = plan_splits(*ds, o, 1);
    Pipeline none;
    BatchLoader loader(*ds, plan.train, none, {8, true, 1, 2, 1, 0, 1, shape});
    auto b = loader.next();
    CHECK(b);
    if (b) CHECK(b->images.sizes() == torch::IntArrayRef({8, shape.channels, shape.height, shape.width}));
  }
}

TEST_CASE("every model maps a batch to logits [batch, classes]", "[contract]") {
  for (const auto* r : registry().plugins(Kind::Model)) {
    const Descriptor& d = *r->descriptor;
    INFO(d.name);
    BuildContext ctx{d.model.input_channels, d.model.input_height, d.model.input_width, 7, 1};
    auto model = registry().create_as<Model>(defaults_of(Kind::Model, d.name), ctx);
    model->module()->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, ctx.channels, ctx.height, ctx.width});
    auto y = model->forward(x);
    CHECK(y.sizes() == torch::IntArrayRef({2, 7}));
    auto stages = model->stages();
    CHECK_FALSE(stages.empty());
    if (stages.empty()) continue;
    CHECK(stages.back() == d.model.classifier);
    CHECK(torch::allclose(model->forward_until(x, stages.back()), y));
  }
}

TEST_CASE("every augmentation keeps its declared shape and is deterministic for a fixed stream", "[contract]") {
  for (const auto* r : registry().plugins(Kind::Augmentation)) {
    INFO(r->descriptor->name);
    auto aug = registry().create_as<Augmentation>(defaults_of(Kind::Augmentation, r->descriptor->name), {});
    for (int channels : {1, 3}) {
      cv::Mat in = sample_image(channels, 5);
      Rng a(42), b(42);
      cv::Mat x = aug->apply(in, a), y = aug->apply(in, b);
      const ImageShape expect = aug->output_shape({channels, in.rows, in.cols});
      CHECK(x.rows == expect.height);
      CHECK(x.cols == expect.width);
      CHECK(x.channels() == expect.channels);
      CHECK(cv::norm(x, y, cv::NORM_INF) == 0);
    }
  }
}

TEST_CASE("metrics give hand-computed values on a hand-made case", "[contract]") {
  // 4 examples, 3 classes; arg-max predictions 0, 2, 1, 0 against targets 0, 1, 1, 2.
  auto logits = torch::tensor({{0.9f, 0.05f, 0.05f}, {0.1f, 0.3f, 0.6f}, {0.2f, 0.7f, 0.1f}, {0.5f, 0.4f, 0.1f}});
  auto targets = torch::tensor({0, 1, 1, 2}, torch::kLong);
  const std::map<std::string, double> expected{
      {"accuracy", 2.0 / 4},    // examples 0 and 2
      {"top_k_accuracy", 1.0},  // k=5 > 3 classes: every target is in the top k
      {"top3_accuracy", 1.0},
      {"top5_accuracy", 1.0},
      {"loss", 6.0 / 4},  // the loss_sum given, per example
      // Confusion [true][pred]: (0,0) (1,2) (1,1) (2,0). Class 0: P 1/2 R 1; class 1: P 1 R 1/2; class 2: P 0 R 0.
      {"f1", (2.0 / 3 + 2.0 / 3 + 0) / 3},  // macro
      {"precision", (0.5 + 1 + 0) / 3},
      {"recall", (1 + 0.5 + 0) / 3},
      {"weighted_f1", (1 * 2.0 / 3 + 2 * 2.0 / 3 + 1 * 0) / 4},  // supports 1, 2, 1
  };
  for (const auto& [name, value] : expected) {
    INFO(name);
    auto m = registry().create_as<Metric>(defaults_of(Kind::Metric, name), {});
    m->reset();
    m->add({logits.slice(0, 0, 2), targets.slice(0, 0, 2), 2.5});
    m->add({logits.slice(0, 2, 4), targets.slice(0, 2, 4), 3.5});
    CHECK_THAT(m->value(), WithinAbs(value, 1e-12));
  }
  Node top2 = Node::map();
  top2.set("type", Node::scalar("top_k_accuracy"));
  top2.set("k", Node::scalar("2"));
  Diagnostics diag;
  auto m = registry().create_as<Metric>(*registry().resolve(Kind::Metric, top2, "m", diag), {});
  m->reset();
  m->add({logits, targets, 0});
  CHECK_THAT(m->value(), WithinAbs(3.0 / 4, 1e-12));  // example 3: target 2 is last of three
  Node micro = Node::map();
  micro.set("type", Node::scalar("f1"));
  micro.set("average", Node::scalar("micro"));
  auto mf = registry().create_as<Metric>(*registry().resolve(Kind::Metric, micro, "m", diag), {});
  mf->reset();
  mf->add({logits, targets, 0});
  CHECK_THAT(mf->value(), WithinAbs(2.0 / 4, 1e-12));  // micro F1 = accuracy for single-label
  Node one = Node::map();
  one.set("type", Node::scalar("recall"));
  one.set("class_index", Node::scalar("1"));
  auto r1 = registry().create_as<Metric>(*registry().resolve(Kind::Metric, one, "m", diag), {});
  r1->reset();
  r1->add({logits, targets, 0});
  CHECK_THAT(r1->value(), WithinAbs(0.5, 1e-12));
  // Every metric in the build has a hand-made case here.
  for (const auto* r : registry().plugins(Kind::Metric)) CHECK(expected.count(r->descriptor->name));
}

TEST_CASE("create_as refuses a plugin of another kind, naming both", "[contract]") {
  const ResolvedPlugin accuracy = defaults_of(Kind::Metric, "accuracy");
  CHECK_THROWS_WITH(registry().create_as<Model>(accuracy, {}),
                    Contains("plugin 'accuracy' is a metric plugin, not a model"));
  CHECK(registry().create_as<Metric>(accuracy, {}));
}
