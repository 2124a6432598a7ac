// Spec loader: bases, overrides, every error kind with its message, hostile input.
#include <catch2/catch.hpp>

#include "helpers.h"
#include "trex/config/spec.h"
#include "trex/config/yaml_loader.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

const Registry& registry() { return built_plugins(); }

const char* kMinimal = R"(name: t
data: {type: fashion_mnist, limit: 100}
model: {type: seed_cnn}
train: {epochs: 1}
)";

std::string errors_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  TempDir d;
  const std::string path = write_file(d.file("spec.yaml"), yaml);
  try {
    load_spec(path, sets, registry());
  } catch (const SpecError& e) {
    std::string out = e.what();
    // The temp folder differs per run; pin the rest of the text.
    for (size_t at; (at = out.find(d.str())) != std::string::npos;) out.replace(at, d.str().size(), "DIR");
    return out;
  }
  return "";
}

}  // namespace

TEST_CASE("a minimal spec resolves with every default filled", "[spec]") {
  TempDir d;
  auto spec = load_spec(write_file(d.file("s.yaml"), kMinimal), {}, registry());
  CHECK(spec.name == "t");
  CHECK(spec.data.type == "fashion_mnist");
  CHECK(spec.data.params.get_string("classes") == "fashion_mnist");  // fixed by the preset
  CHECK(spec.data_options.limit == 100);
  CHECK(spec.train.epochs == 1);
  CHECK(spec.train.optimizer.type == "adam");
  CHECK(spec.model.params.get_int("conv1_filters") == 16);
  REQUIRE(spec.metrics.size() == 2);  // accuracy by default, loss always
  CHECK(spec.metrics[0].name == "accuracy");
  CHECK(spec.metrics[1].name == "loss");
  // The resolved YAML is itself a valid spec that resolves to the same thing.
  auto again = load_spec_text(spec.yaml(), "again", registry());
  CHECK(again.yaml() == spec.yaml());
  auto flat = spec.flat();
  auto lr = std::find_if(flat.begin(), flat.end(), [](const FlatParam& p) { return p.key == "train.optimizer.lr"; });
  REQUIRE(lr != flat.end());
  CHECK(lr->type == "float");
}

TEST_CASE("base files merge maps, replace lists, and the including file wins", "[spec]") {
  TempDir d;
  write_file(d.file("base.yaml"), R"(name: base
data: {type: fashion_mnist, limit: 100}
model: {type: seed_cnn, dense_units: 64}
train: {epochs: 3, optimizer: {type: sgd, lr: 0.1, momentum: 0.9}}
metrics: [accuracy, top5_accuracy]
)");
  write_file(d.file("sub/child.yaml"), R"(base: ../base.yaml
name: child
train: {optimizer: {lr: 0.01}}
metrics: [accuracy]
)");
  auto spec = load_spec(d.file("sub/child.yaml"), {}, registry());
  CHECK(spec.name == "child");
  CHECK(spec.train.epochs == 3);
  CHECK(spec.train.optimizer.type == "sgd");
  CHECK(spec.train.optimizer.lr == 0.01);
  CHECK(spec.train.optimizer.momentum == 0.9);
  CHECK(spec.model.params.get_int("dense_units") == 64);
  CHECK(spec.metrics.size() == 2);  // [accuracy] replaced the list; loss is added

  SECTION("_replace_ replaces a map instead of merging") {
    write_file(d.file("replace.yaml"), R"(base: base.yaml
train: {_replace_: true, epochs: 2}
)");
    auto r = load_spec(d.file("replace.yaml"), {}, registry());
    CHECK(r.train.epochs == 2);
    CHECK(r.train.optimizer.type == "adam");  // the base's optimizer is gone: default
  }
  SECTION("a cycle is an error naming the chain") {
    write_file(d.file("a.yaml"), "base: b.yaml\n");
    write_file(d.file("b.yaml"), "base: a.yaml\n");
    CHECK_THROWS_WITH(load_spec(d.file("a.yaml"), {}, registry()), Contains("base cycle"));
  }
  SECTION("a missing base names the file") {
    write_file(d.file("m.yaml"), "base: nowhere.yaml\n");
    CHECK_THROWS_WITH(load_spec(d.file("m.yaml"), {}, registry()),
                      Contains("m.yaml:1:7: base: base file") && Contains("nowhere.yaml' not found"));
  }
}

TEST_CASE("overrides (--set) reach any dotted key, list items by index, typed as YAML", "[spec]") {
  TempDir d;
  const std::string path = write_file(d.file("s.yaml"), std::string(kMinimal) + R"(augment:
  train: [{type: random_flip}, {type: random_crop, padding: 2}]
)");
  auto spec = load_spec(path,
                        {"train.optimizer.lr=0.05", "augment.train.0.p=0.3", "augment.train.1.padding=4", "seed=7",
                         "train.optimizer.type=sgd"},
                        registry());
  CHECK(spec.train.optimizer.lr == 0.05);
  CHECK(spec.train.optimizer.type == "sgd");
  CHECK(spec.augment_train[0].p == 0.3);
  CHECK(spec.augment_train[1].plugin.params.get_int("padding") == 4);
  CHECK(spec.seed == 7);
  CHECK_THROWS_WITH(load_spec(path, {"augment.train.5.p=0.3"}, registry()),
                    Contains("augment.train.5: '5' is not an index of this list (it has 2 items"));
  CHECK_THROWS_WITH(load_spec(path, {"nonsense"}, registry()), Contains("an override is KEY=VALUE"));
  CHECK_THROWS_WITH(load_spec(path, {"train.epochs=many"}, registry()),
                    Contains("--set train.epochs=many: train.epochs: expected an integer, got 'many'"));
}

TEST_CASE("spec errors name file, line:column and key path, with a suggestion", "[spec]") {
  SECTION("unknown key") {
    CHECK(
        errors_of("name: t\ndata: {type: fashion_mnist, limt: 5}\nmodel: {type: seed_cnn}\n") ==
        "DIR/spec.yaml:2:35: data.limt: unknown key 'limt' for dataset preset 'fashion_mnist' (did you mean 'limit'?); "
        "see `trex plugins describe` for its parameters");
  }
  SECTION("unknown top-level key") {
    CHECK_THAT(errors_of(std::string(kMinimal) + "trian: {}\n"),
               Contains("DIR/spec.yaml:5:8: trian: unknown top-level key 'trian' (did you mean 'train'?)"));
  }
  SECTION("wrong type") {
    CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn, dense_units: lots}\n") ==
          "DIR/spec.yaml:2:38: model.dense_units: expected an integer, got 'lots'");
  }
  SECTION("out of range") {
    CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn, dropout1: 1.5}\n") ==
          "DIR/spec.yaml:2:35: model.dropout1: 1.5 is out of range: must be [0.0, 0.99]");
  }
  SECTION("unknown type lists the registered names and the closest") {
    CHECK_THAT(
        errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cn}\n"),
        Contains(
            "DIR/spec.yaml:2:15: model.type: unknown model type 'seed_cn' (did you mean 'seed_cnn'?); registered: ") &&
            Contains("seed_cnn"));
  }
  SECTION("duplicate key") {
    CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\nmodel: {type: seed_cnn}\n") ==
          "DIR/spec.yaml:3:1: model: duplicate key 'model' (first at line 2); remove one of them");
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(load_spec("/nonexistent/spec.yaml", {}, registry()),
                      Contains("/nonexistent/spec.yaml: file not found"));
  }
  SECTION("bad choice") {
    CHECK(errors_of(std::string(kMinimal) + "augment: {train: [{type: random_crop, padding_mode: reflct}]}\n") ==
          "DIR/spec.yaml:5:53: augment.train.0.padding_mode: 'reflct' is not one of: constant, reflect, edge (did you "
          "mean 'reflect'?)");
  }
  SECTION("a preset's fixed key may not be given") {
    CHECK_THAT(errors_of("data: {type: fashion_mnist, classes: mnist}\nmodel: {type: seed_cnn}\n"),
               Contains("data.classes: 'classes' is fixed to fashion_mnist by dataset preset 'fashion_mnist'"));
  }
  SECTION("a monitor must be a recorded metric key") {
    CHECK_THAT(
        errors_of(std::string(kMinimal) + "metrics: [accuracy]\n", {"train.checkpoint.monitor=val_acc"}),
        Contains("train.checkpoint.monitor: 'val_acc' is not a recorded metric key (did you mean 'val_accuracy'?)"));
  }
  SECTION("every problem is reported at once") {
    auto text =
        errors_of("data: {type: fashion_mnist, limit: -1}\nmodel: {type: seed_cnn, l2: x}\ntrain: {epochs: 0}\n");
    CHECK_THAT(text, Contains("data.limit") && Contains("model.l2") && Contains("train.epochs"));
  }
}

TEST_CASE("hostile spec input gives a clear error, never a crash or a hang", "[spec]") {
  CHECK_THAT(errors_of(""), Contains("the file is empty"));
  CHECK_THAT(errors_of("- just\n- a list\n"), Contains("a spec must be a map"));
  CHECK_THAT(errors_of(std::string("\x7f"
                                   "ELF\x02\x01\x01\0\0\0garbage",
                                   16)),
             Contains("binary data, not YAML"));
  CHECK_THAT(errors_of("a: [unclosed\n"), Contains("not valid YAML"));
  std::string deep = "a: ";
  for (int i = 0; i < 5000; ++i) deep += "[";
  CHECK_THAT(errors_of(deep), Contains("DIR/spec.yaml"));
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
            char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
            ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  CHECK_THAT(errors_of(bomb), Contains("alias bomb"));
  CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\ntrain: {epochs: 99999999999999999999999}\n") ==
        "DIR/spec.yaml:3:17: train.epochs: '99999999999999999999999' does not fit a 64-bit integer");
  CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\ntrain: {optimizer: {lr: .nan}}\n") ==
        "DIR/spec.yaml:3:25: train.optimizer.lr: expected a finite number, got '.nan'");
  CHECK(errors_of("data: {type: fashion_mnist}\nmodel: {type: seed_cnn}\ntrain: {optimizer: {lr: 1e999}}\n") ==
        "DIR/spec.yaml:3:25: train.optimizer.lr: expected a finite number, got '1e999'");
  CHECK_THAT(errors_of("data: 5\nmodel: {type: seed_cnn}\n"),
             Contains("data.type: missing 'type:'") || Contains("unknown dataset type '5'"));
}
