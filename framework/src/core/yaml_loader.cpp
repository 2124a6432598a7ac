#include "trex/core/yaml_loader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "trex/registry/diagnostics.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

constexpr std::size_t kMaxFileBytes = 4 << 20;
constexpr std::size_t kMaxNodes = 200000;  // an alias bomb expands past this long before memory runs out
constexpr int kMaxDepth = 64;

[[noreturn]] void fail(const Origin& o, const std::string& path, const std::string& message) {
  throw SpecError({{o, path, message}});
}

struct Converter {
  std::string file;
  std::size_t nodes = 0;

  Origin origin(const YAML::Mark& m) const {
    if (m.is_null()) return {file, 0, 0};
    return {file, m.line + 1, m.column + 1};
  }

  Node convert(const YAML::Node& y, const std::string& path, int depth) {
    const Origin o = origin(y.Mark());
    if (++nodes > kMaxNodes)
      fail(o, path, "the document expands to more than " + std::to_string(kMaxNodes) +
                        " nodes (an alias bomb?); specs are small maps");
    if (depth > kMaxDepth)
      fail(o, path, "nesting deeper than " + std::to_string(kMaxDepth) + " levels; specs are shallow");
    switch (y.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Node::null(o);
      case YAML::NodeType::Scalar:
        return Node::scalar(y.Scalar(), y.Tag() == "!", o);
      case YAML::NodeType::Sequence: {
        Node seq = Node::sequence(o);
        std::size_t i = 0;
        for (const auto& item : y) seq.push_back(convert(item, join_path(path, std::to_string(i++)), depth + 1));
        return seq;
      }
      case YAML::NodeType::Map: {
        Node map = Node::map(o);
        for (const auto& kv : y) {
          if (!kv.first.IsScalar())
            fail(origin(kv.first.Mark()), path, "map keys must be plain names, not lists or maps");
          const std::string key = kv.first.Scalar();
          if (const Node* previous = map.find(key))
            fail(origin(kv.first.Mark()), join_path(path, key),
                 "duplicate key '" + key + "' (first at line " + std::to_string(previous->origin().line) +
                     "); remove one of them");
          Node value = convert(kv.second, join_path(path, key), depth + 1);
          if (value.is_null() && value.origin().line == 0) value.set_origin(origin(kv.first.Mark()));
          map.entries().emplace_back(key, std::move(value));
        }
        return map;
      }
    }
    return Node::null(o);
  }
};

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail({path}, "", "file not found; check the path (relative paths start at the current directory or, for base:, at the including file)");
  if (fs::is_directory(path, ec)) fail({path}, "", "is a directory, not a YAML file");
  auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxFileBytes)
    fail({path}, "", "file is " + std::to_string(size) + " bytes; a spec over " + std::to_string(kMaxFileBytes) +
                         " bytes is refused (is this really a spec?)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail({path}, "", "cannot open the file for reading");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void load_chain(const std::string& path, std::vector<std::string>& stack, Node& out) {
  const std::string canonical = fs::weakly_canonical(path).string();
  for (const auto& seen : stack)
    if (seen == canonical) {
      std::string chain;
      for (const auto& s : stack) chain += s + " -> ";
      fail({path}, "base", "base cycle: " + chain + canonical);
    }
  stack.push_back(canonical);
  Node doc = parse_yaml_file(path);
  if (doc.is_null()) fail({path}, "", "the file is empty; a spec is a map with data, model and train keys");
  if (!doc.is_map()) fail(doc.origin(), "", "a spec must be a map of keys (name, data, model, train, ...)");

  Node merged = Node::map(doc.origin());
  if (const Node* base = doc.find("base")) {
    std::vector<Node> bases;
    if (base->is_sequence()) bases = base->items();
    else bases.push_back(*base);
    for (const auto& b : bases) {
      if (!b.is_scalar() || b.is_null_scalar()) fail(b.origin(), "base", "base must be a file path or a list of them");
      fs::path base_path = fs::path(b.text()).is_absolute() ? fs::path(b.text())
                                                             : fs::path(path).parent_path() / b.text();
      if (!fs::exists(base_path))
        fail(b.origin(), "base", "base file '" + base_path.string() + "' not found (relative to the including file)");
      Node loaded = Node::map();
      load_chain(base_path.string(), stack, loaded);
      merge_into(merged, loaded);
    }
    doc.erase("base");
  }
  merge_into(merged, doc);
  stack.pop_back();
  out = std::move(merged);
}

}  // namespace

Node parse_yaml(const std::string& text, const std::string& file) {
  if (text.find('\0') != std::string::npos)
    fail({file}, "", "the file holds NUL bytes: binary data, not YAML text");
  YAML::Node y;
  try {
    y = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Origin o{file};
    if (!e.mark.is_null()) o = {file, e.mark.line + 1, e.mark.column + 1};
    fail(o, "", "not valid YAML: " + e.msg);
  }
  Converter c{file};
  return c.convert(y, "", 0);
}

Node parse_yaml_file(const std::string& path) { return parse_yaml(read_file(path), path); }

Node load_with_bases(const std::string& path) {
  std::vector<std::string> stack;
  Node out;
  load_chain(path, stack, out);
  return out;
}

void merge_into(Node& base, const Node& over) {
  if (!base.is_map() || !over.is_map()) {
    base = over;
    return;
  }
  const Node* replace = over.find("_replace_");
  if (replace && replace->as_bool().value_or(false)) {
    base = over;
    base.erase("_replace_");
    return;
  }
  for (const auto& [key, value] : over.entries()) {
    if (key == "_replace_") continue;
    Node* existing = base.find(key);
    if (existing && existing->is_map() && value.is_map()) {
      merge_into(*existing, value);
      continue;
    }
    // Merging onto an empty map strips `_replace_` markers at every depth.
    Node fresh = value.is_map() ? Node::map(value.origin()) : value;
    if (value.is_map()) merge_into(fresh, value);
    base.set(key, std::move(fresh));
  }
}

void apply_override(Node& root, const std::string& assignment) {
  const Origin o{"--set " + assignment};
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(o, "", "an override is KEY=VALUE with a dotted KEY, e.g. train.optimizer.lr=0.01");
  const std::string key = assignment.substr(0, eq);
  Node value = parse_yaml(assignment.substr(eq + 1), "--set " + key);
  value.set_origin(o);

  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) fail(o, key, "empty segment in the key path");
    parts.push_back(part);
  }
  Node* cur = &root;
  std::string path;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    path = join_path(path, part);
    if (cur->is_sequence()) {
      auto index = Node::scalar(part).as_int();
      if (!index || *index < 0 || static_cast<std::size_t>(*index) >= cur->items().size())
        fail(o, path, "'" + part + "' is not an index of this list (it has " +
                          std::to_string(cur->items().size()) + " items; indices start at 0)");
      Node& item = cur->items()[static_cast<std::size_t>(*index)];
      if (last) item = value;
      cur = &item;
      continue;
    }
    if (cur->is_null()) *cur = Node::map(o);
    if (!cur->is_map()) fail(o, path, "cannot set a key inside a scalar value");
    Node* next = cur->find(part);
    if (last) {
      cur->set(part, value);
      return;
    }
    if (!next) next = &cur->set(part, Node::map(o));
    cur = next;
  }
}

}  // namespace trex
