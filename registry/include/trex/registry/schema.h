#pragma once
// Validating a spec node against a parameter schema: unknown keys, wrong types,
// out-of-range values and bad choices become SpecIssues; defaults are filled.
#include <map>
#include <string>

#include "trex/plugin/descriptor.h"
#include "trex/registry/diagnostics.h"

namespace trex {

/// Converts one node to the schema's type; records an issue and returns nullopt on failure.
std::optional<Value> convert_value(const Node& node, const ParamSpec& spec, const std::string& path, Diagnostics& diag);

/// Validates the keys of map `node` (skipping `ignore`, e.g. "type") against `schema`.
/// Keys in `fixed` are set by a preset and may not be given. Returns the full
/// parameter map: given values, then preset values, then defaults.
ParamMap validate_params(const Node& node, const Schema& schema, const std::string& path,
                         const std::map<std::string, Value>& fixed, const std::string& owner, Diagnostics& diag,
                         const std::vector<std::string>& ignore = {"type"});

/// One line per parameter: name, type, default, range or choices, doc.
std::string describe_schema(const Schema& schema);

}  // namespace trex
