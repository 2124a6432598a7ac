#include "trex/registry/node.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <initializer_list>

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

namespace {

// YAML 1.2 core-schema numbers, scanned by hand: std::regex recurses once per
// character in libstdc++, so a 100k-digit scalar overflowed the stack.
bool all_digits(const std::string& s, std::size_t from, bool (*digit)(char)) {
  if (from >= s.size()) return false;
  for (std::size_t i = from; i < s.size(); ++i)
    if (!digit(s[i])) return false;
  return true;
}
bool dec_digit(char c) { return c >= '0' && c <= '9'; }
bool hex_digit(char c) { return dec_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool oct_digit(char c) { return c >= '0' && c <= '7'; }

/// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_decimal_float(const std::string& s) {
  std::size_t i = s.empty() || (s[0] != '-' && s[0] != '+') ? 0 : 1;
  const std::size_t int_start = i;
  while (i < s.size() && dec_digit(s[i])) ++i;
  const bool int_digits = i > int_start;
  bool frac_digits = false;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_start = ++i;
    while (i < s.size() && dec_digit(s[i])) ++i;
    frac_digits = i > frac_start;
  }
  if (!int_digits && !frac_digits) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    return all_digits(s, i, dec_digit);
  }
  return i == s.size();
}

bool one_of(const std::string& s, std::size_t from, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (s.compare(from, std::string::npos, w) == 0) return true;
  return false;
}

}  // namespace

std::optional<std::int64_t> Node::as_int(bool* overflow) const {
  if (overflow) *overflow = false;
  if (type_ != Type::Scalar || quoted_) return std::nullopt;
  const std::string& t = text_;
  int base = 0;
  std::size_t start = 0;
  if (all_digits(t, t.empty() || (t[0] != '-' && t[0] != '+') ? 0 : 1, dec_digit))
    base = 10;
  else if (t.rfind("0x", 0) == 0 && all_digits(t, 2, hex_digit))
    base = 16, start = 2;
  else if (t.rfind("0o", 0) == 0 && all_digits(t, 2, oct_digit))
    base = 8, start = 2;
  else
    return std::nullopt;
  errno = 0;
  long long v = std::strtoll(t.c_str() + start, nullptr, base);
  if (errno == ERANGE) {
    if (overflow) *overflow = true;
    return std::nullopt;
  }
  return static_cast<std::int64_t>(v);
}

std::optional<double> Node::as_float() const {
  if (type_ != Type::Scalar || quoted_) return std::nullopt;
  if (auto i = as_int()) return static_cast<double>(*i);
  const std::string& t = text_;
  if (is_decimal_float(t)) return std::strtod(t.c_str(), nullptr);  // 1e999 -> inf
  const std::size_t sign = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (one_of(t, sign, {".inf", ".Inf", ".INF"})) return t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
  if (one_of(t, 0, {".nan", ".NaN", ".NAN"})) return std::nan("");
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

bool has_control(const std::string& t) {
  for (unsigned char c : t)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

bool needs_quotes(const Node& n) {
  const std::string& t = n.text();
  if (t.empty() || has_control(t)) return true;
  // Plain only when made of characters that mean nothing to YAML in any
  // context (a number, a word, a path), and not a lone "-" or a document marker.
  for (unsigned char c : t)
    if (!std::isalnum(c) && c < 0x80 && std::string("._/+-~=()^$").find(static_cast<char>(c)) == std::string::npos)
      return true;
  if (t == "-" || t.rfind("---", 0) == 0 || t.rfind("...", 0) == 0 || t.rfind("\xef\xbb\xbf", 0) == 0) return true;
  if (!n.quoted()) return false;
  // A string that would read back as another type.
  const Node plain = Node::scalar(t);
  return plain.as_float() || plain.as_bool() || plain.is_null_scalar();
}

// A double-quoted YAML scalar: quotes and backslashes escaped, control
// characters as \xNN, so every string reads back as itself.
std::string quote(const std::string& t) {
  std::string out = "\"";
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string scalar_text(const Node& n) {
  if (n.is_null() || (n.is_scalar() && !n.quoted() && n.is_null_scalar())) return "null";
  return needs_quotes(n) ? quote(n.text()) : n.text();
}

bool is_flow_list(const Node& n) {
  if (!n.is_sequence() || n.items().empty()) return n.is_sequence();
  for (const auto& i : n.items())
    if (!i.is_scalar() && !i.is_null()) return false;
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
      const std::string shown = needs_quotes(Node::scalar(key, true)) ? quote(key) : key;
      // YAML caps an implicit key at 1024 characters; a longer one is written as an explicit "? key".
      out += shown.size() > 1000 ? pad + "? " + shown + "\n" + pad + ":" : pad + shown + ":";
      emit_inline_or_block(value, indent, out);
    }
  } else if (n.is_sequence()) {
    for (const auto& item : n.items()) {
      if (item.is_map() && !item.entries().empty()) {
        // "- key: v" with the rest of the map aligned under the first key.
        std::string body;
        emit(item, indent + 2, body);
        out += pad + "- " + body.substr(indent + 2);
      } else if (item.is_sequence() && !is_flow_list(item)) {
        // A block list inside a list goes one step in, or it would join its parent.
        out += pad + "-\n";
        emit(item, indent + 2, out);
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

std::string yaml_scalar(const Node& scalar) { return scalar_text(scalar); }

std::string to_yaml(const Node& node) {
  std::string out;
  emit(node, 0, out);
  return out;
}

}  // namespace trex
