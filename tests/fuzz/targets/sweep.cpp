// The sweep block: parsing, then drawing points. Oracle: every drawn point
// lies in the space and gives --set text for each key.
#include "../fuzz_target.h"
#include "trex/sweep/sampler.h"
#include "trex/sweep/sweep_config.h"
#include "trex/config/yaml_loader.h"
#include "trex/registry/diagnostics.h"

TREX_FUZZ_TARGET(sweep) {
  trex::SweepConfig config;
  try {
    const trex::Node doc = trex::parse_yaml(trex::fuzz::text(data, size), "fuzz.yaml");
    const trex::Node* block = doc.is_map() && doc.find("sweep") ? doc.find("sweep") : &doc;
    config = trex::parse_sweep(*block, "fuzz.yaml");
  } catch (const trex::SpecError&) {
    return;
  }
  std::vector<trex::Observation> history;
  const std::int64_t n = std::min<std::int64_t>(config.configurations(), 12);
  for (std::int64_t i = 0; i < n; ++i) {
    const trex::Point p = trex::sample(config, i, history);
    if (p.size() != config.params.size()) trex::fuzz::violated("a point with the wrong number of coordinates");
    for (std::size_t d = 0; d < p.size(); ++d) {
      const auto& s = config.params[d];
      if (!(p[d] >= s.internal_low() && p[d] <= s.internal_high()))
        trex::fuzz::violated("point " + std::to_string(i) + " leaves the range of " + s.key);
      if (s.to_text(p[d]).empty()) trex::fuzz::violated("empty --set text for " + s.key);
    }
    history.push_back({p, static_cast<double>(i % 5)});
  }
}
