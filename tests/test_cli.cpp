// The trex CLI: help, exit codes, one-line errors, listing and describing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "../framework/src/cli/command_table.h"
#include "helpers.h"

using namespace trex::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("--help works on every command and exits 0", "[cli]") {
  for (const char* cmd :
       {"", " run", " validate", " runs", " show", " plugins", " plugins describe", " sweep", " sweep status",
        " sweeps", " merge", " compare", " best", " sql", " eda", " report", " plot", " ui"}) {
    INFO(cmd);
    auto r = run_command(trex_binary() + cmd + " --help");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("Usage:") || Contains("USAGE"));
  }
}

TEST_CASE("both front ends show every command of the one table with its help", "[cli]") {
  const auto top = run_command(trex_binary() + " --help");
  for (const auto& c : trex::cli::kCommands) {
    INFO(c.name);
    CHECK_THAT(top.output, Contains(c.name) && Contains(c.help));
    const auto own =
        run_command(trex_binary() + " " + c.name + " --help");  // forwarded to trex-torch for torch commands
    CHECK(own.exit_code == 0);
    CHECK_THAT(own.output, Contains(c.help));
  }
}

TEST_CASE("failures exit non-zero with a one-line cause", "[cli]") {
  TempDir d;
  auto r = run_command(trex_binary() + " validate " + d.file("missing.yaml"));
  CHECK(r.exit_code == 1);
  CHECK(r.output ==
        "trex: " + d.file("missing.yaml") +
            ": file not found; check the path (relative paths start at the current directory or, for base:, "
            "at the including file)\n");
  auto s = run_command(trex_binary() + " show nope --store " + d.file("none.db"));
  CHECK(s.exit_code == 1);
  CHECK_THAT(s.output, StartsWith("trex: store '") && Contains("does not exist"));
  CHECK(run_command(trex_binary() + " frobnicate").exit_code != 0);
  auto p = run_command(trex_binary() + " plugins describe seed_cn");
  CHECK(p.exit_code == 1);
  CHECK(p.output == "trex: no plugin named 'seed_cn' (did you mean 'seed_cnn'?); `trex plugins` lists them\n");
}

TEST_CASE("trex validate prints the resolved spec", "[cli]") {
  TempDir d;
  write_file(d.file("s.yaml"), "data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\n");
  auto r = run_command(trex_binary() + " validate " + d.file("s.yaml") + " --set train.epochs=3");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("epochs: 3") && Contains("dense_units: 128") && Contains("root: /usr/share/datasets"));
}

TEST_CASE("every spec the repository ships validates, sweeps' parameter ranges included", "[cli]") {
  std::vector<std::string> specs;
  for (const char* dir : {"/experiments", "/tools/bench"})
    for (const auto& e : std::filesystem::recursive_directory_iterator(source_dir() + dir))
      if (e.path().extension() == ".yaml") specs.push_back(e.path().string());
  CHECK(specs.size() >= 10);
  for (const auto& spec : specs) {
    auto r = run_command(trex_binary() + " validate " + spec);
    INFO(spec << "\n" << r.output);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("trex validate refuses a sweep parameter that is not a key of the spec", "[cli]") {
  TempDir d;
  const std::string base = "data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\n";
  write_file(d.file("ok.yaml"),
             base + "sweep:\n  parameters:\n    train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n");
  CHECK(run_command(trex_binary() + " validate " + d.file("ok.yaml")).exit_code == 0);
  write_file(d.file("typo.yaml"), base + "sweep:\n  parameters:\n    train.optimizer.lrx: {uniform: [0.1, 0.2]}\n");
  auto r = run_command(trex_binary() + " validate " + d.file("typo.yaml"));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("lrx"));
  write_file(d.file("range.yaml"), base + "sweep:\n  parameters:\n    train.epochs: {int_uniform: [0, 3]}\n");
  auto range = run_command(trex_binary() + " validate " + d.file("range.yaml"));
  CHECK(range.exit_code == 1);
  CHECK_THAT(range.output, Contains("train.epochs"));
}

TEST_CASE("trex plugins lists and describes plugins, as a table or JSON", "[cli]") {
  auto r = run_command(trex_binary() + " plugins --format json");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output);
  std::set<std::string> names;
  for (const auto& p : j) names.insert(p["name"].get<std::string>());
  for (const char* n : {"idx", "opencv_digits", "seed_cnn", "rescale", "normalize", "random_flip", "random_crop",
                        "accuracy", "top_k_accuracy", "loss"})
    CHECK(names.count(n));
  auto m = run_command(trex_binary() + " plugins --kind metric");
  CHECK_THAT(m.output, Contains("top5_accuracy"));
  CHECK_THAT(m.output, !Contains("seed_cnn"));
  auto desc = run_command(trex_binary() + " plugins describe random_crop");
  CHECK(desc.exit_code == 0);
  CHECK_THAT(desc.output, Contains("padding_mode (string) = constant") && Contains("one of {constant, reflect, edge}"));
  auto json = run_command(trex_binary() + " plugins describe loss --format json");
  CHECK(nlohmann::json::parse(json.output)["higher_is_better"] == false);
  auto shadow = run_command("TREX_PLUGIN_PATH=" + std::string(TREX_FIXTURE_DIR) + "/bad " + trex_binary() + " plugins");
  CHECK_THAT(shadow.output, Contains("not loaded: ") && Contains("plugin ABI version 999"));
}

TEST_CASE("trex runs and trex show read the store", "[cli]") {
  TempDir d;
  write_file(d.file("s.yaml"),
             "name: tiny\ndata: {type: opencv_digits, per_class_limit: 20, test_fraction: 0.2}\n"
             "model: {type: seed_cnn}\naugment: {train: [rescale], eval: [rescale]}\n"
             "train: {epochs: 2, batch_size: 32}\n");
  const std::string store = d.file("trex.db");
  auto run = run_command(trex_binary() + " run " + d.file("s.yaml") + " --store " + store);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  auto runs = run_command(trex_binary() + " runs --format json --store " + store);
  REQUIRE(runs.exit_code == 0);
  auto j = nlohmann::json::parse(runs.output);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["name"] == "tiny");
  CHECK(j[0]["status"] == "completed");
  CHECK(j[0]["main_metric"] == "val_accuracy");
  CHECK(j[0]["main_best"].is_number());
  auto csv = run_command(trex_binary() + " runs --format csv --store " + store);
  CHECK_THAT(csv.output, StartsWith("id,name,experiment,status,start_time,duration,main_metric,main_best,main_last\n"));
  auto show = run_command(trex_binary() + " show tiny --store " + store);
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.output, Contains("# resolved spec") && Contains("# epochs") && Contains("val_accuracy") &&
                              Contains("test_predictions") && Contains("# evaluations") && Contains("split:test") &&
                              Contains("weighted_f1"));
}

TEST_CASE("trex plugins describe shows a model's cut points with their shapes for an input size", "[cli]") {
  auto r = run_command(trex_binary() + " plugins describe vgg16 --input 3x48x48");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("cut points for a 3x48x48 input:") && Contains("block3_pool  [1, 256, 6, 6]") &&
                           Contains("block5_pool  [1, 512, 1, 1]") &&
                           Contains("parameter count: 138357544 (1000 classes)"));
  auto resnet = run_command(trex_binary() + " plugins describe resnet50");
  CHECK_THAT(resnet.output, Contains("layer4  [1, 2048, 7, 7]") && Contains("parameter count: 25557032"));
  auto bad = run_command(trex_binary() + " plugins describe vgg16 --input big");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("--input is CxHxW, e.g. 3x48x48; got 'big'"));
}
