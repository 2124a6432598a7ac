// Every fuzz target over its committed corpus (tests/fuzz/corpus/<target>/)
// and the inputs that once crashed it (tests/fuzz/regressions/<target>/),
// through the ordinary build: CI replays, tools/fuzz.sh fuzzes.
#include <filesystem>

#include "fuzz/fuzz_target.h"
#include "helpers.h"

#include <catch2/catch.hpp>

using namespace trex;
using namespace trex::test;

TEST_CASE("fuzz targets replay their corpora and regression inputs without a finding", "[fuzz]") {
  const fs::path root = fs::path(source_dir()) / "tests" / "fuzz";
  REQUIRE(fuzz::targets().size() == 10);
  for (const auto& [name, target] : fuzz::targets()) {
    std::size_t inputs = 0;
    for (const char* kind : {"corpus", "regressions"}) {
      const fs::path dir = root / kind / name;
      if (!fs::is_directory(dir)) continue;
      for (const auto& f : fs::directory_iterator(dir)) {
        if (!f.is_regular_file() || f.path().filename() == "README.md") continue;
        const std::string bytes = read_file(f.path().string());
        INFO(name << ": " << f.path().string());
        try {
          target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        } catch (const std::exception& e) {
          FAIL_CHECK(e.what());
        }
        ++inputs;
      }
    }
    INFO(name);
    CHECK(inputs >= 3);  // every target has a committed corpus
  }
}
