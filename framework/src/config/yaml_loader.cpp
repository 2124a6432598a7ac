#include "trex/config/yaml_loader.h"

#include <algorithm>
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

/// The offset of the first byte that does not belong to valid UTF-8, or npos.
std::size_t invalid_utf8_at(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    std::uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n;
  }
  return std::string::npos;
}

struct Converter {
  std::string file;
  std::size_t nodes = 0;

  // An escape such as "\ud800" decodes to bytes that are not UTF-8.
  static void check_text(const std::string& text, const Origin& o, const std::string& path) {
    if (invalid_utf8_at(text) != std::string::npos)
      fail(o, path,
           "this text decodes to bytes that are not UTF-8 (an escaped surrogate?); write the character itself");
  }

  Origin origin(const YAML::Mark& m) const {
    if (m.is_null()) return {file, 0, 0};
    return {file, m.line + 1, m.column + 1};
  }

  Node convert(const YAML::Node& y, const std::string& path, int depth) {
    const Origin o = origin(y.Mark());
    if (++nodes > kMaxNodes)
      fail(o, path,
           "the document expands to more than " + std::to_string(kMaxNodes) +
               " nodes (an alias bomb?); specs are small maps");
    if (depth > kMaxDepth)
      fail(o, path, "nesting deeper than " + std::to_string(kMaxDepth) + " levels; specs are shallow");
    switch (y.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: return Node::null(o);
      case YAML::NodeType::Scalar: check_text(y.Scalar(), o, path); return Node::scalar(y.Scalar(), y.Tag() == "!", o);
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
          check_text(key, origin(kv.first.Mark()), path);
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
  if (!fs::exists(path, ec))
    fail({path}, "",
         "file not found; check the path (relative paths start at the current directory or, for base:, at the "
         "including file)");
  if (fs::is_directory(path, ec)) fail({path}, "", "is a directory, not a YAML file");
  auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxFileBytes)
    fail({path}, "",
         "file is " + std::to_string(size) + " bytes; a spec over " + std::to_string(kMaxFileBytes) +
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
    if (base->is_sequence())
      bases = base->items();
    else
      bases.push_back(*base);
    for (const auto& b : bases) {
      if (!b.is_scalar() || b.is_null_scalar()) fail(b.origin(), "base", "base must be a file path or a list of them");
      fs::path base_path =
          fs::path(b.text()).is_absolute() ? fs::path(b.text()) : fs::path(path).parent_path() / b.text();
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

/// Levels of maps and lists in `n` (a scalar: 0); parsed nodes are at most kMaxDepth deep.
int depth(const Node& n) {
  int d = 0;
  if (n.is_map())
    for (const auto& e : n.entries()) d = std::max(d, depth(e.second) + 1);
  if (n.is_sequence())
    for (const auto& item : n.items()) d = std::max(d, depth(item) + 1);
  return d;
}

}  // namespace

Node parse_yaml(const std::string& text, const std::string& file) {
  if (text.find('\0') != std::string::npos) fail({file}, "", "the file holds NUL bytes: binary data, not YAML text");
  if (const std::size_t bad = invalid_utf8_at(text); bad != std::string::npos) {
    const std::size_t newline = bad == 0 ? std::string::npos : text.rfind('\n', bad - 1);
    const std::size_t line_start = newline == std::string::npos ? 0 : newline + 1;
    const int line =
        1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n'));
    const int column = 1 + static_cast<int>(bad - line_start);
    fail({file, line, column}, "", "not UTF-8 text here; save the spec as UTF-8");
  }
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
  for (unsigned char c : key)
    if (c < 0x20 || c == 0x7f)
      fail(o, "", "the key holds a control character; keys are dotted names such as train.optimizer.lr");
  if (invalid_utf8_at(key) != std::string::npos) fail(o, "", "the key is not UTF-8 text");
  Node value = parse_yaml(assignment.substr(eq + 1), "--set " + key);
  value.set_origin(o);

  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) fail(o, key, "empty segment in the key path");
    if (parts.size() >= static_cast<std::size_t>(kMaxDepth))
      fail(o, key.substr(0, 80),
           "the key path is deeper than " + std::to_string(kMaxDepth) + " levels; specs are shallow");
    parts.push_back(part);
  }
  if (static_cast<int>(parts.size()) + depth(value) > kMaxDepth)
    fail(o, key.substr(0, 80),
         "the key path and its value nest deeper than " + std::to_string(kMaxDepth) + " levels; specs are shallow");
  Node* cur = &root;
  std::string path;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    path = join_path(path, part);
    if (cur->is_sequence()) {
      auto index = Node::scalar(part).as_int();
      if (!index || *index < 0 || static_cast<std::size_t>(*index) >= cur->items().size())
        fail(o, path,
             "'" + part + "' is not an index of this list (it has " + std::to_string(cur->items().size()) +
                 " items; indices start at 0)");
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
