// The spec resolver over the built plugins (TREX_FUZZ_PLUGINS, else the
// ordinary build's plugins). Oracle: a resolved spec's YAML — what the store
// keeps to resume and re-run — resolves again to the same YAML.
#include <cstdlib>

#include "../fuzz_target.h"
#include "trex/config/spec.h"
#include "trex/registry/registry.h"

namespace {
const trex::Registry& registry() {
  const char* dir = std::getenv("TREX_FUZZ_PLUGINS");
  static const trex::Registry r({dir && *dir ? dir : TREX_PLUGIN_DIR});
  return r;
}
}  // namespace

TREX_FUZZ_TARGET(spec) {
  trex::ResolvedSpec spec;
  try {
    spec = trex::load_spec_text(trex::fuzz::text(data, size), "fuzz.yaml", registry());
  } catch (const std::runtime_error&) {
    return;
  }
  const std::string yaml = spec.yaml();
  try {
    if (trex::load_spec_text(yaml, "stored", registry()).yaml() != yaml)
      trex::fuzz::violated("the stored spec resolves to another spec:\n" + yaml);
  } catch (const std::runtime_error& e) {
    trex::fuzz::violated(std::string("the stored spec does not resolve: ") + e.what() + "\n" + yaml);
  }
}
