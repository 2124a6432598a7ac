// Registry: good plugins, refused ones (ABI, missing symbol, duplicates), shadowing, lifetime.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "helpers.h"
#include <opencv2/core.hpp>

#include "trex/plugin/augmentation.h"
#include "trex/registry/registry.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {
std::string fixture(const std::string& dir) { return std::string(TREX_FIXTURE_DIR) + "/" + dir; }

ResolvedPlugin resolve_ok(const Registry& r, const Node& node) {
  Diagnostics diag;
  auto out = r.resolve(Kind::Augmentation, node, "augment.train.0", diag);
  INFO((diag.empty() ? std::string() : diag.issues()[0].format()));
  REQUIRE(out);
  return *out;
}

Node node_of(const std::string& type, const std::string& key = "", const std::string& value = "") {
  Node n = Node::map({"t.yaml", 1, 1});
  n.set("type", Node::scalar(type, false, {"t.yaml", 1, 7}));
  if (!key.empty()) n.set(key, Node::scalar(value, false, {"t.yaml", 2, 3}));
  return n;
}
}  // namespace

TEST_CASE("a good plugin loads, validates its parameters and builds", "[registry]") {
  Registry r({fixture("good")});
  CHECK(r.problems().empty());
  REQUIRE(r.find(Kind::Augmentation, "fixture_aug"));
  CHECK(r.names(Kind::Augmentation) == std::vector<std::string>{"fixture_aug", "fixture_five", "fixture_presets"});

  auto resolved = resolve_ok(r, node_of("fixture_aug", "amount", "2.5"));
  auto aug = r.create_as<Augmentation>(resolved, {});
  Rng rng(1);
  cv::Mat out = aug->apply(cv::Mat(2, 2, CV_8UC1, cv::Scalar(3)), rng);
  CHECK(out.at<float>(0, 0) == 5.5f);

  SECTION("a preset fixes its parameters") {
    auto preset = resolve_ok(r, node_of("fixture_five"));
    CHECK(preset.params.get_float("amount") == 5.0);
  }
  SECTION("defaults are filled") { CHECK(resolve_ok(r, node_of("fixture_aug")).params.get_float("amount") == 1.0); }
  SECTION("a factory's exception becomes a host error naming plugin and library") {
    auto bad = resolve_ok(r, node_of("fixture_aug", "amount", "9.5"));
    CHECK_THROWS_WITH(r.create(bad, {}),
                      Contains("augmentation 'fixture_aug' (") &&
                          Contains("trex_augmentation_fx_good.so) failed to build: 9.5 is refused on purpose"));
  }
  SECTION("validation errors carry the path and location") {
    Diagnostics diag;
    CHECK_FALSE(r.resolve(Kind::Augmentation, node_of("fixture_aug", "amout", "1"), "augment.train.0", diag));
    REQUIRE(diag.issues().size() == 1);
    CHECK(diag.issues()[0].format() ==
          "t.yaml:2:3: augment.train.0.amout: unknown key 'amout' for augmentation 'fixture_aug' (did you mean "
          "'amount'?); "
          "see `trex plugins describe` for its parameters");
  }
}

TEST_CASE("bad libraries are refused with file and reason - the rest still load", "[registry]") {
  Registry r({fixture("bad"), fixture("good")});
  REQUIRE(r.problems().size() == 2);
  std::string all;
  for (const auto& p : r.problems()) all += p.path + ": " + p.reason + "\n";
  CHECK_THAT(all, Contains("trex_augmentation_fx_wrong_abi.so: plugin ABI version 999 differs from the host's " +
                           std::to_string(TREX_ABI_VERSION) +
                           "; "
                           "rebuild the plugin against this trex"));
  CHECK_THAT(all, Contains("trex_model_no_symbols.so: missing symbol 'trex_descriptor'"));
  CHECK(r.find(Kind::Augmentation, "fixture_aug"));
}

TEST_CASE("duplicate names in one folder are refused naming both libraries", "[registry]") {
  SECTION("same plugin name") {
    Registry r({fixture("bad_dup")});
    REQUIRE(r.problems().size() == 1);
    CHECK_THAT(r.problems()[0].path, Contains("trex_augmentation_fx_duplicate2.so"));
    CHECK_THAT(r.problems()[0].reason, Contains("augmentation name 'fixture_aug' is already taken by ") &&
                                           Contains("trex_augmentation_fx_duplicate.so"));
  }
  SECTION("a preset that clashes with another plugin's name") {
    Registry r({fixture("bad_preset")});
    REQUIRE(r.problems().size() == 1);
    CHECK_THAT(r.problems()[0].reason, Contains("name 'fixture_aug' is already taken by"));
  }
}

TEST_CASE("earlier search folders shadow later ones, and the shadowing is reported", "[registry]") {
  Registry r({fixture("good"), fixture("shadow")});
  CHECK(r.problems().empty());
  REQUIRE(r.shadowed().size() == 1);
  CHECK(r.shadowed()[0].name == "fixture_aug");
  CHECK_THAT(r.shadowed()[0].shadowed, Contains("shadow/trex_augmentation_fx_shadow.so"));
  auto aug = r.create_as<Augmentation>(resolve_ok(r, node_of("fixture_aug", "amount", "0")), {});
  Rng rng(1);
  CHECK(aug->apply(cv::Mat(1, 1, CV_8UC1, cv::Scalar(0)), rng).at<float>(0, 0) == 0.f);  // the good one, not +100

  SECTION("TREX_PLUGIN_PATH and --plugin-path come after the build's folder, in that order") {
    setenv("TREX_PLUGIN_PATH", (fixture("shadow") + ":" + fixture("good")).c_str(), 1);
    auto path = Registry::search_path({fixture("unique")});
    unsetenv("TREX_PLUGIN_PATH");
    REQUIRE(path.size() == 4);
    CHECK_THAT(path[0], Contains("plugins"));
    CHECK(path[1] == fixture("unique"));
    CHECK(path[2] == fixture("shadow"));
    CHECK(path[3] == fixture("good"));
  }
}

TEST_CASE("an object keeps its library loaded after the registry is gone", "[registry]") {
  // fx_unique is built with -fno-gnu-unique, so dlclose really unmaps it: a
  // virtual call into an unloaded library would crash here.
  std::shared_ptr<Augmentation> aug;
  {
    Registry r({fixture("unique")});
    REQUIRE(r.problems().empty());
    aug = r.create_as<Augmentation>(resolve_ok(r, node_of("fixture_unique", "amount", "2")), {});
  }
  Rng rng(1);
  CHECK(aug->apply(cv::Mat(1, 1, CV_8UC1, cv::Scalar(1)), rng).at<float>(0, 0) == 3.f);
}
