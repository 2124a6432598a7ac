// Spec numbers and key paths from files, --set and stored specs: huge numbers
// and deep paths give a clear error, never a stack overflow.
#include <catch2/catch.hpp>

#include "../helpers.h"
#include "trex/config/spec.h"
#include "trex/config/yaml_loader.h"

using namespace trex;
using namespace trex::test;
using Catch::Matchers::Contains;

namespace {

const char* kMinimal =
    "name: t\ndata: {type: fashion_mnist, limit: 100}\nmodel: {type: seed_cnn}\ntrain: {epochs: 1}\n";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("numbers of 100k digits do not fit, and say so", "[hostile][spec]") {
  const std::string digits(100000, '7');
  CHECK_FALSE(Node::scalar(digits).as_int());
  bool overflow = false;
  Node::scalar(digits).as_int(&overflow);
  CHECK(overflow);
  CHECK(std::isinf(*Node::scalar(digits + ".5").as_float()));
  CHECK_FALSE(Node::scalar(digits + "x").as_float());
  CHECK(Node::scalar("0x" + std::string(100000, 'f')).as_int() == std::nullopt);
  TempDir d;
  const std::string spec = write_file(d.file("s.yaml"), std::string(kMinimal) + "seed: " + digits + "\n");
  CHECK_THAT(error_of([&] { load_spec(spec, {}, built_plugins()); }),
             Contains("seed") && Contains("does not fit a 64-bit integer"));
  const std::string plain = write_file(d.file("p.yaml"), kMinimal);
  CHECK_THAT(error_of([&] { load_spec(plain, {"seed=" + digits}, built_plugins()); }),
             Contains("does not fit a 64-bit integer"));
  CHECK_THAT(error_of([&] { load_spec(plain, {"train.optimizer.lr=" + digits + ".0"}, built_plugins()); }),
             Contains("train.optimizer.lr") && Contains("expected a finite number"));
  CHECK_THAT(
      error_of([&] { load_spec_text(std::string(kMinimal) + "seed: " + digits + "\n", "stored", built_plugins()); }),
      Contains("does not fit a 64-bit integer"));
}

TEST_CASE("numbers keep their YAML 1.2 meaning without std::regex", "[spec]") {
  CHECK(Node::scalar("-12").as_int() == -12);
  CHECK(Node::scalar("+7").as_int() == 7);
  CHECK(Node::scalar("0x1F").as_int() == 31);
  CHECK(Node::scalar("0o17").as_int() == 15);
  CHECK_FALSE(Node::scalar("0o18").as_int());
  CHECK_FALSE(Node::scalar("1_000").as_int());
  CHECK_FALSE(Node::scalar("-").as_int());
  CHECK(Node::scalar("1.5e3").as_float() == 1500.0);
  CHECK(Node::scalar(".5").as_float() == 0.5);
  CHECK(Node::scalar("5.").as_float() == 5.0);
  CHECK(Node::scalar("-.inf").as_float() == -HUGE_VAL);
  CHECK(std::isnan(*Node::scalar(".NaN").as_float()));
  for (const char* no : {".", "e5", "1e", "1e+", "--1", "1.2.3", "inf", "-.nan", "0x", ""}) {
    INFO(no);
    CHECK_FALSE(Node::scalar(no).as_float());
  }
  CHECK_FALSE(Node::scalar("12", true).as_int());  // quoted: a string
}

TEST_CASE("key paths of --set deeper than a spec can be are refused", "[hostile][spec]") {
  std::string key = "a";
  for (int i = 0; i < 100000; ++i) key += ".b";
  Node root = Node::map();
  CHECK_THROWS_WITH(apply_override(root, key + "=1"), Contains("deeper than 64 levels"));
  std::string value = "x=";
  for (int i = 0; i < 100000; ++i) value += "[";
  CHECK_THROWS_WITH(apply_override(root, value), Contains("--set x"));
}
