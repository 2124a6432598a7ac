// Frozen backbones: cached features train the head to the uncached metrics,
// disk caches are shared (by parallel runs and by a sweep's trials), and
// checkpoints reference the backbone's weights file instead of repeating it.
#include <torch/serialize.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/inference/predict.h"
#include "trex/sweep/sweep_store.h"
#include "trex/plugin/model.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

#include "run_records.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

const char* kFrozen = R"(name: frozen
seed: 4
data: {type: fashion_mnist, limit: 600, val_fraction: 0.2, test_fraction: 0.1}
augment: {train: [normalize], eval: [normalize]}
model:
  backbone: {type: resnet18, cut: layer2, freeze: true}
  head: [global_avg_pool, {type: batch_norm}, {type: dense, units: 16, activation: relu}, {type: dropout, p: 0.3}, dense]
train: {epochs: 3, batch_size: 32, workers: 1, optimizer: {type: adam, lr: 0.01}}
)";

CommandResult run_spec(const TempDir& d, const std::string& spec, const std::string& store,
                       const std::string& sets = "") {
  write_file(d.file("spec.yaml"), spec);
  return run_command(trex_binary() + " run " + d.file("spec.yaml") + " --store " + d.file(store) + " " + sets);
}

std::map<std::string, std::string> cache_artifacts(const Store& s, const std::string& run) {
  std::map<std::string, std::string> out;  // set -> computed | reused
  for (const auto& a : s.artifacts(run))
    if (a.kind.rfind("feature_cache_", 0) == 0) out[a.kind.substr(14)] = a.checksum;
  return out;
}

/// Every stored metric of `b` equals `a`'s within a relative 1e-5.
void check_same_metrics(const Store& s, const std::string& a, const std::string& b) {
  check_metrics_close(stored_metrics(s, a), stored_metrics(s, b), 1e-5, 3 * 4);
}

/// A resnet18 state dict (1000 classes) as torch.save writes it.
void write_resnet18_weights(const std::string& path, std::uint64_t seed) {
  Node n = Node::map();
  n.set("type", Node::scalar("resnet18"));
  Diagnostics diag;
  auto r = built_plugins().resolve(Kind::Model, n, "model", diag);
  REQUIRE(r);
  torch::manual_seed(seed);
  auto model = built_plugins().create_as<Model>(*r, {1, 28, 28, 1000, seed});
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& p : model->module()->named_parameters()) dict.insert(p.key(), p.value().detach());
  for (const auto& b : model->module()->named_buffers()) dict.insert(b.key(), b.value());
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("cached frozen features train the head to the uncached metrics - a disk cache is reused",
          "[transfer][cache]") {
  TempDir d;
  std::vector<std::string> runs;
  for (const char* mode : {"off", "memory", "disk", "disk"}) {
    auto r = run_spec(d, kFrozen, "s.db", std::string("-q --set train.feature_cache=") + mode);
    INFO(mode << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    runs.push_back(Store(d.file("s.db"), true).runs().back().id);
  }
  Store s(d.file("s.db"), true);
  CHECK(stored_param(s, runs[0], "train.feature_cache_used") == "off");
  CHECK(stored_param(s, runs[1], "train.feature_cache_used") == "memory");
  CHECK(stored_param(s, runs[2], "train.feature_cache_used") == "disk");
  for (std::size_t i = 1; i < runs.size(); ++i) check_same_metrics(s, runs[0], runs[i]);
  // The first disk run computed train, val and test features; the second read all three.
  CHECK(cache_artifacts(s, runs[2]) ==
        std::map<std::string, std::string>{{"test", "computed"}, {"train", "computed"}, {"val", "computed"}});
  CHECK(cache_artifacts(s, runs[3]) ==
        std::map<std::string, std::string>{{"test", "reused"}, {"train", "reused"}, {"val", "reused"}});
  std::size_t files = 0;
  for (const auto& f : fs::directory_iterator(d.path() / "feature_cache")) files += f.path().extension() == ".pt";
  CHECK(files == 3);
  // Another cut is another cache: nothing is reused.
  auto r = run_spec(d, kFrozen, "s.db", "-q --set train.feature_cache=disk --set model.backbone.cut=layer3");
  REQUIRE(r.exit_code == 0);
  CHECK(cache_artifacts(Store(d.file("s.db"), true), Store(d.file("s.db"), true).runs().back().id).at("train") ==
        "computed");
}

TEST_CASE("two runs filling one disk cache at once compute it once", "[transfer][cache]") {
  TempDir d;
  write_file(d.file("spec.yaml"), kFrozen);
  const std::string run = trex_binary() + " run " + d.file("spec.yaml") + " -q --store " + d.file("s.db") +
                          " --set train.feature_cache=disk --set train.threads=1";
  auto r = run_command("(" + run + " & " + run + " & wait)");
  INFO(r.output);
  Store s(d.file("s.db"), true);
  const auto runs = s.runs();
  REQUIRE(runs.size() == 2);
  for (const auto& one : runs) CHECK(one.status == "completed");
  std::multiset<std::string> train{cache_artifacts(s, runs[0].id).at("train"),
                                   cache_artifacts(s, runs[1].id).at("train")};
  CHECK(train == std::multiset<std::string>{"computed", "reused"});
  check_same_metrics(s, runs[0].id, runs[1].id);
}

TEST_CASE("a sweep over head hyperparameters computes the frozen features once", "[transfer][cache][sweep]") {
  TempDir d;
  std::string spec = kFrozen;
  spec +=
      "sweep:\n  method: grid\n  parameters:\n    train.optimizer.lr: {choice: [0.01, 0.003]}\n    model.head.2.units: "
      "{choice: [8, 16]}\n";
  write_file(d.file("sweep.yaml"), spec);
  auto r = run_command(trex_binary() + " sweep " + d.file("sweep.yaml") + " --store " + d.file("s.db"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Store s(d.file("s.db"), true);
  const auto runs = s.runs();
  REQUIRE(runs.size() == 4);
  std::map<std::string, int> train;
  for (const auto& one : runs) {
    CHECK(stored_param(s, one.id, "train.feature_cache_used") == "disk");  // auto is disk in a sweep
    ++train[cache_artifacts(s, one.id).at("train")];
  }
  CHECK(train == std::map<std::string, int>{{"computed", 1}, {"reused", 3}});
}

TEST_CASE("the feature cache refuses features that can change, and auto says why it is off", "[transfer][cache]") {
  TempDir d;
  std::string flip = kFrozen;
  flip.replace(flip.find("train: [normalize]"), 18, "train: [random_flip, normalize]");
  auto r = run_spec(d, flip, "s.db", "--set train.feature_cache=memory");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("augment.train step 'random_flip' draws random numbers") &&
                           Contains("train.feature_cache: auto"));
  r = run_spec(d, kFrozen, "s.db", "--set train.feature_cache=disk --set model.backbone.freeze=false");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("the backbone has trainable parameters"));
  r = run_spec(d, kFrozen, "s.db", "--set train.feature_cache=memory --set model.backbone.bn=train");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("BatchNorm layer 'bn1' of the backbone trains its statistics"));
  r = run_spec(d, flip, "s.db", "--set train.epochs=1");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("feature cache off: augment.train step 'random_flip'"));
  r = run_spec(d, kFrozen, "s.db", "--set train.epochs=1 --set train.feature_cache_max_gb=0.0001");
  REQUIRE(r.exit_code == 0);  // 128 numbers x 1,600 images > 0.0001 GiB: auto leaves it off
  CHECK_THAT(r.output, Contains("feature cache off: the features would take") &&
                           Contains("train.feature_cache_max_gb is 0.0001"));
  CHECK(stored_param(Store(d.file("s.db"), true), Store(d.file("s.db"), true).runs().back().id,
                     "train.feature_cache_used") == "off");
  CHECK(stored_param(Store(d.file("s.db"), true), Store(d.file("s.db"), true).runs().back().id,
                     "train.feature_cache_used") == "off");
}

TEST_CASE("a frozen backbone's checkpoint references its weights file instead of repeating it", "[transfer][cache]") {
  TempDir d;
  write_resnet18_weights(d.file("r18.pt"), 11);
  const auto weights_size = fs::file_size(d.file("r18.pt"));
  std::string spec = kFrozen;
  spec.replace(spec.find("cut: layer2"), 11, "weights: " + d.file("r18.pt") + ", cut: layer2");
  for (const char* freeze : {"true", "false"}) {
    auto r =
        run_spec(d, spec, std::string("s_") + freeze + ".db", std::string("-q --set model.backbone.freeze=") + freeze);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    Store s(d.file(std::string("s_") + freeze + ".db"), true);
    const std::string id = s.runs().back().id;
    const auto last = fs::file_size(fs::path(s.run_dir(id, false)) / "checkpoints" / "last.pt");
    Registry registry({plugin_dir()});
    TrainedRun run(s, registry, id + "@best");
    std::size_t built = 0;  // bytes of the backbone up to the cut
    for (const auto& p : run.parts().module->named_parameters())
      if (p.key().rfind("backbone.", 0) == 0) built += static_cast<std::size_t>(p.value().numel()) * 4;
    if (std::string(freeze) == "true")
      CHECK(last * 50 < weights_size);  // the head and its optimizer state only
    else
      CHECK(last > 3 * built);  // everything built, and Adam's two moments
    // The referenced tensors came back from the file: a frozen backbone equals it.
    const std::string bytes = read_file(d.file("r18.pt"));
    const auto source = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
    std::size_t same = 0;
    for (const auto& p : run.parts().module->named_parameters())
      if (p.key().rfind("backbone.", 0) == 0) same += torch::equal(p.value(), source.at(p.key().substr(9)).toTensor());
    if (std::string(freeze) == "true")
      CHECK(same == 30);  // all of resnet18's parameters up to the cut (layer2)
    else
      CHECK(same < 30);
  }
  Store s(d.file("s_true.db"), true);
  const std::string id = s.runs().back().id;
  bool recorded = false;
  for (const auto& a : s.artifacts(id)) recorded |= a.kind == "backbone_weights" && a.path == d.file("r18.pt");
  CHECK(recorded);
  Registry registry({plugin_dir()});
  write_resnet18_weights(d.file("r18.pt"), 12);  // the file changes under the run
  CHECK_THROWS_WITH(TrainedRun(s, registry, id + "@best"),
                    Contains("keeps only the trained tensors") && Contains("r18.pt") && Contains("has changed since"));
  fs::remove(d.file("r18.pt"));  // the spec's own weights key names the file first
  CHECK_THROWS_WITH(TrainedRun(s, registry, id + "@last"), Contains("r18.pt' not found"));
}
