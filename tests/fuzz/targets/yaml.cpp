// The YAML loader, --set overrides and scalar parsing. Input: a --set
// assignment on the first line, a document after it. Oracle: what to_yaml
// writes (a run's stored spec) reads back as the same tree.
#include "../fuzz_target.h"
#include "trex/config/yaml_loader.h"
#include "trex/registry/diagnostics.h"

TREX_FUZZ_TARGET(yaml) {
  const std::string in = trex::fuzz::text(data, size);
  const auto nl = in.find('\n');
  const std::string assignment = in.substr(0, nl), document = nl == std::string::npos ? "" : in.substr(nl + 1);
  trex::Node scalar = trex::Node::scalar(assignment);
  (void)scalar.as_int();
  (void)scalar.as_float();
  (void)scalar.as_bool();
  trex::Node root;
  try {
    root = trex::parse_yaml(document, "fuzz.yaml");
    trex::apply_override(root, assignment);
  } catch (const trex::SpecError&) {
    return;
  }
  const std::string emitted = trex::to_yaml(root);
  try {
    const std::string again = trex::to_yaml(trex::parse_yaml(emitted, "emitted"));
    if (again != emitted)
      trex::fuzz::violated("to_yaml does not read back the same:\n" + emitted + "\n--- read back as ---\n" + again);
  } catch (const trex::SpecError& e) {
    trex::fuzz::violated(std::string("to_yaml wrote YAML that does not parse: ") + e.what() + "\n" + emitted);
  }
}
