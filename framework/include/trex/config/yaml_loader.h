#pragma once
// Reads YAML files into trex Nodes (with file:line:column), merges `base:`
// chains and applies --set overrides. The only place that touches yaml-cpp.
#include <string>
#include <vector>

#include "trex/registry/node.h"

namespace trex {

/// Parses one YAML document; hostile input (binary junk, deep nesting, alias
/// bombs, duplicate keys) becomes a SpecError naming the file.
Node parse_yaml(const std::string& text, const std::string& file);
Node parse_yaml_file(const std::string& path);

/// Loads `path`, merging its `base:` chain (paths relative to the including
/// file; maps merge recursively, lists are replaced, the including file wins; a
/// map with `_replace_: true` replaces instead of merging).
Node load_with_bases(const std::string& path);

/// Merges `over` onto `base` by the rules above.
void merge_into(Node& base, const Node& over);

/// Applies one `a.b.0.c=VALUE` override (VALUE typed as YAML).
void apply_override(Node& root, const std::string& assignment);

}  // namespace trex
