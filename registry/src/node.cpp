#include "trex/registry/node.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace trex {

std::string Origin::str() const {
  if (file.empty()) return "<spec>";
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Node Node::null(Origin o) {
  Node n;
  n.origin_ = std::move(o);
  return n;
}

Node Node::scalar(std::string text, bool quoted, Origin o) {
  Node n;
  n.type_ = Type::Scalar;
  n.text_ = std::move(text);
  n.quoted_ = quoted;
  n.origin_ = std::move(o);
  return n;
}

Node Node::sequence(Origin o) {
  Node n;
  n.type_ = Type::Sequence;
  n.origin_ = std::move(o);
  return n;
}

Node Node::map(Origin o) {
  Node n;
  n.type_ = Type::Map;
  n.origin_ = std::move(o);
  return n;
}

const Node* Node::find(const std::string& key) const {
  for (const auto& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

Node* Node::find(const std::string& key) {
  for (auto& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

Node& Node::set(const std::string& key, Node value) {
  if (Node* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries_.emplace_back(key, std::move(value));
  return entries_.back().second;
}

bool Node::erase(const std::string& key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it)
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  return false;
}

bool Node::is_null_scalar() const {
  if (type_ == Type::Null) return true;
  if (type_ != Type::Scalar || quoted_) return false;
  return text_.empty() || text_ == "~" || text_ == "null" || text_ == "Null" || text_ == "NULL";
}

std::optional<bool> Node::as_bool() const {
  if (type_ != Type::Scalar || quoted_) return std::nullopt;
  if (text_ == "true" || text_ == "True" || text_ == "TRUE") return true;
  if (text_ == "false" || text_ == "False" || text_ == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::int64_t> Node::as_int(bool* overflow) const {
  if (overflow) *overflow = false;
  if (type_ != Type::Scalar || quoted_) return std::nullopt;
  static const std::regex dec("[-+]?[0-9]+");
  static const std::regex hex("0x[0-9a-fA-F]+");
  static const std::regex oct("0o[0-7]+");
  int base = 0;
  const char* start = text_.c_str();
  if (std::regex_match(text_, dec)) base = 10;
  else if (std::regex_match(text_, hex)) base = 16, start += 2;
  else if (std::regex_match(text_, oct)) base = 8, start += 2;
  else return std::nullopt;
  errno = 0;
  long long v = std::strtoll(start, nullptr, base);
  if (errno == ERANGE) {
    if (overflow) *overflow = true;
    return std::nullopt;
  }
  return static_cast<std::int64_t>(v);
}

std::optional<double> Node::as_float() const {
  if (type_ != Type::Scalar || quoted_) return std::nullopt;
  if (auto i = as_int()) return static_cast<double>(*i);
  static const std::regex num("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex inf("[-+]?\\.(inf|Inf|INF)");
  static const std::regex nan("\\.(nan|NaN|NAN)");
  if (std::regex_match(text_, num)) return std::strtod(text_.c_str(), nullptr);  // 1e999 -> inf
  if (std::regex_match(text_, inf)) return text_[0] == '-' ? -HUGE_VAL : HUGE_VAL;
  if (std::regex_match(text_, nan)) return std::nan("");
  return std::nullopt;
}

namespace {
struct NodeBuilder {
  Origin o;
  Node operator()(bool b) const { return Node::scalar(b ? "true" : "false", false, o); }
  Node operator()(std::int64_t i) const { return Node::scalar(std::to_string(i), false, o); }
  Node operator()(double d) const { return Node::scalar(to_string(Value(d)), false, o); }
  Node operator()(const std::string& s) const { return Node::scalar(s, true, o); }
  template <typename T>
  Node operator()(const std::vector<T>& xs) const {
    Node seq = Node::sequence(o);
    for (const auto& x : xs) seq.push_back((*this)(x));
    return seq;
  }
};
}  // namespace

Node Node::from_value(const Value& v, Origin o) { return std::visit(NodeBuilder{std::move(o)}, v); }

namespace {

bool needs_quotes(const Node& n) {
  const std::string& t = n.text();
  if (t.empty()) return true;
  if (!n.quoted()) return false;
  // A quoted string that would read back as another type, or break YAML.
  if (n.as_bool() || n.is_null_scalar()) return true;
  Node plain = Node::scalar(t);
  if (plain.as_float() || plain.as_bool() || plain.is_null_scalar()) return true;
  return t.find_first_of(":#{}[],&*!|>'\"%@`\n") != std::string::npos || t.front() == ' ' ||
         t.back() == ' ' || t.front() == '-' || t.front() == '?';
}

std::string quote(const std::string& t) {
  std::string out = "\"";
  for (char c : t) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out + "\"";
}

std::string scalar_text(const Node& n) {
  if (n.is_null()) return "null";
  return needs_quotes(n) ? quote(n.text()) : n.text();
}

bool is_flow_list(const Node& n) {
  if (!n.is_sequence() || n.items().empty()) return n.is_sequence();
  for (const auto& i : n.items())
    if (!i.is_scalar()) return false;
  return true;
}

void emit(const Node& n, int indent, std::string& out);

void emit_inline_or_block(const Node& value, int indent, std::string& out) {
  if (value.is_map() && !value.entries().empty()) {
    out += "\n";
    emit(value, indent + 2, out);
  } else if (value.is_sequence() && !is_flow_list(value)) {
    out += "\n";
    emit(value, indent, out);
  } else if (value.is_map()) {
    out += " {}\n";
  } else if (value.is_sequence()) {
    out += " [";
    for (size_t i = 0; i < value.items().size(); ++i) {
      if (i) out += ", ";
      out += scalar_text(value.items()[i]);
    }
    out += "]\n";
  } else {
    out += " " + scalar_text(value) + "\n";
  }
}

void emit(const Node& n, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (n.is_map()) {
    for (const auto& [key, value] : n.entries()) {
      out += pad + (needs_quotes(Node::scalar(key, true)) ? quote(key) : key) + ":";
      emit_inline_or_block(value, indent, out);
    }
  } else if (n.is_sequence()) {
    for (const auto& item : n.items()) {
      if (item.is_map() && !item.entries().empty()) {
        // "- key: v" with the rest of the map aligned under the first key.
        std::string body;
        emit(item, indent + 2, body);
        out += pad + "- " + body.substr(indent + 2);
      } else {
        out += pad + "-";
        emit_inline_or_block(item, indent, out);
      }
    }
  } else {
    out += pad + scalar_text(n) + "\n";
  }
}

}  // namespace

std::string to_yaml(const Node& node) {
  std::string out;
  emit(node, 0, out);
  return out;
}

}  // namespace trex
