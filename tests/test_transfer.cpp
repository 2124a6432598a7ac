// Transfer by config: cut, freeze, new head; frozen weights stay bit-identical,
// and a backbone trained by trex transfers from the store.
#include <torch/serialize.h>
#include <torch/torch.h>

#include "helpers.h"
#include "trex/inference/predict.h"
// Catch2 last: glog (through LibTorch) defines its own CHECK, which must not win.
#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

std::map<std::string, at::Tensor> load_dict(const std::string& path) {
  const std::string bytes = read_file(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict())
    out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

std::map<std::string, at::Tensor> backbone_state(TrainedRun& run) {
  std::map<std::string, at::Tensor> out;
  auto& m = *run.parts().module;
  for (const auto& p : m.named_parameters())
    if (p.key().rfind("backbone.", 0) == 0) out[p.key().substr(9)] = p.value();
  for (const auto& b : m.named_buffers())
    if (b.key().rfind("backbone.", 0) == 0) out[b.key().substr(9)] = b.value();
  return out;
}

const char* kTransfer = R"(name: transfer
seed: 2
data: {type: fashion_mnist, limit: 500}
augment: {train: [normalize], eval: [normalize]}
model:
  backbone: {type: resnet18, weights: WEIGHTS, cut: layer2, freeze: FREEZE}
  head: [global_avg_pool, {type: batch_norm}, {type: dense, units: 32, activation: relu}, {type: dropout, p: 0.2}, dense]
train: {epochs: 2, batch_size: 50, optimizer: {type: adam, lr: 0.01}}
)";

std::string spec_with(const std::string& weights, const std::string& freeze) {
  std::string s = kTransfer;
  s.replace(s.find("WEIGHTS"), 7, weights);
  s.replace(s.find("FREEZE"), 6, freeze);
  return s;
}

}  // namespace

TEST_CASE("a frozen backbone's parameters and BN buffers are bit-identical after training", "[transfer]") {
  INFO("the reference is Debian's python3-torchvision; tools/setup.sh installs it");
  REQUIRE(python_has("torchvision"));
  TempDir d;
  REQUIRE(run_command("/usr/bin/python3 " + source_dir() + "/tools/export_torchvision_weights.py resnet18 " +
                      d.file("r18.pt"))
              .exit_code == 0);
  const auto source = load_dict(d.file("r18.pt"));
  for (const char* freeze : {"true", "false"}) {
    INFO("freeze " << freeze);
    const std::string store = d.file(std::string("s_") + freeze + ".db");
    write_file(d.file("t.yaml"), spec_with(d.file("r18.pt"), freeze));
    auto r = run_command(trex_binary() + " run " + d.file("t.yaml") + " -q --store " + store);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    Store s(store, true);
    Registry registry({plugin_dir()});
    TrainedRun run(s, registry, s.runs().back().id + "@last");
    auto trained = backbone_state(run);
    // Built up to the cut: layer3, layer4 and fc are left out, neither built nor read.
    std::size_t before_cut = 0;
    for (const auto& kv : source)
      before_cut +=
          kv.first.rfind("layer3.", 0) != 0 && kv.first.rfind("layer4.", 0) != 0 && kv.first.rfind("fc.", 0) != 0;
    REQUIRE(trained.size() == before_cut);
    std::size_t changed = 0;
    for (const auto& [key, tensor] : trained) {
      INFO(key);
      REQUIRE(source.count(key));
      if (!torch::equal(source.at(key), tensor)) ++changed;
    }
    // Frozen: nothing moved, BN statistics included. Fine-tuned: the used layers moved (fc is past the cut).
    if (std::string(freeze) == "true")
      CHECK(changed == 0);
    else
      CHECK(changed > 20);
    auto params = s.params(run.record().id);
    auto value = [&](const std::string& key) {
      for (const auto& p : params)
        if (p.key == key) return p.value;
      return std::string();
    };
    // Head: BN1d(128) 256 + dense 128*32+32 + dense 32*10+10.
    if (std::string(freeze) == "true")
      CHECK(value("model.params.trainable") == std::to_string(256 + 128 * 32 + 32 + 32 * 10 + 10));
    // resnet18 up to layer2 (torchvision's count of those modules' parameters) and the head.
    CHECK(value("model.params.total") == std::to_string(683072 + 256 + 128 * 32 + 32 + 32 * 10 + 10));
    CHECK(value("model.backbone.freeze") == (std::string(freeze) == "true" ? "1" : "0"));  // bools are stored as 0/1
  }
}

TEST_CASE("a backbone trained with trex transfers from the store with run:ID", "[transfer]") {
  TempDir d;
  const std::string store = d.file("trex.db");
  write_file(d.file("source.yaml"),
             "name: source\ndata: {type: fashion_mnist, limit: 400}\nmodel: {type: seed_cnn}\n"
             "augment: {train: [normalize], eval: [normalize]}\ntrain: {epochs: 1, batch_size: 50}\n");
  REQUIRE(run_command(trex_binary() + " run " + d.file("source.yaml") + " -q --store " + store).exit_code == 0);
  const std::string source_id = Store(store, true).runs().back().id;
  // Digits are 20x20: the seed CNN's fc1 depends on the input size, so cut before it, at the pool.
  write_file(d.file("digits.yaml"),
             "name: digits\ndata: {type: opencv_digits, per_class_limit: 30, test_fraction: 0.2}\n"
             "augment: {train: [normalize], eval: [normalize]}\n"
             "model:\n  backbone: {type: seed_cnn, weights: 'run:" +
                 source_id +
                 "@best', classes: 10, cut: pool, freeze: true}\n"
                 "  head: [global_avg_pool, dense]\ntrain: {epochs: 2, batch_size: 30}\n");
  auto r = run_command(trex_binary() + " run " + d.file("digits.yaml") + " -q --store " + store);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  Store s(store, true);
  Registry registry({plugin_dir()});
  TrainedRun source(s, registry, source_id + "@best");
  TrainedRun target(s, registry, "digits@last");
  auto transferred = backbone_state(target);
  std::size_t compared = 0;
  for (const auto& p : source.parts().module->named_parameters()) {
    if (p.key().rfind("fc1", 0) == 0 || p.key().rfind("classifier", 0) == 0) continue;  // past the cut
    INFO(p.key());
    CHECK(torch::equal(transferred.at(p.key()), p.value()));
    ++compared;
  }
  CHECK(compared == 6);  // conv1, conv2, bn: weight and bias each
}

TEST_CASE("composite model errors name the key and the fix", "[transfer]") {
  TempDir d;
  auto errors = [&](const std::string& model) {
    write_file(d.file("e.yaml"), "data: {type: fashion_mnist, limit: 100}\nmodel: " + model + "\n");
    return run_command(trex_binary() + " run " + d.file("e.yaml") + " -q --store " + d.file("e.db")).output;
  };
  CHECK_THAT(errors("{backbone: {type: seed_cnn, cut: block9}, head: [flatten, dense]}"),
             Contains("model.backbone.cut: 'block9' is not a stage of seed_cnn; stages: conv1, conv2"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn}, head: [{type: dense, units: 3}]}"),
             Contains("the last dense has 3 units but the dataset has 10 classes"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn}, head: [global_avg_pol, dense]}"),
             Contains("model.head.0.type: unknown head layer 'global_avg_pol' (did you mean 'global_avg_pool'?)"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn}, head: [global_avg_pool]}"),
             Contains("the head must end with a dense layer"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn, freeze: maybe}, head: [dense]}"),
             Contains("model.backbone.freeze: expected true, false or a list of module names"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn, bn: thawed}, head: [dense]}"),
             Contains("model.backbone.bn: expected frozen or train"));
  CHECK_THAT(errors("{backbone: {type: seed_cnn, inference_graph: on}, head: [dense]}"),
             Contains("model.backbone.inference_graph: expected auto or off"));
}

TEST_CASE("a head layer that does not fit the cut's output says so", "[transfer]") {
  TempDir d;
  write_file(
      d.file("e.yaml"),
      "data: {type: fashion_mnist, limit: 100}\nmodel: {backbone: {type: seed_cnn}, head: [global_avg_pool, dense]}\n");
  auto r = run_command(trex_binary() + " run " + d.file("e.yaml") + " -q --store " + d.file("e.db"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("model.head.0: global_avg_pool needs a feature map [B, C, H, W], got 2 dimensions"));
}
