#pragma once
// A spec tree that remembers where each node came from (file, line, column),
// so every error can point at it after bases are merged and --set applied.
// yaml-cpp builds it once per file; after that yaml-cpp is out of the picture.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trex/plugin/value.h"

namespace trex {

struct Origin {
  std::string file;  ///< path of the YAML file, or "--set"
  int line = 0;      ///< 1-based; 0 when unknown
  int column = 0;
  std::string str() const;
};

class Node {
 public:
  enum class Type { Null, Scalar, Sequence, Map };

  Node() = default;
  static Node null(Origin o = {});
  static Node scalar(std::string text, bool quoted = false, Origin o = {});
  static Node sequence(Origin o = {});
  static Node map(Origin o = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_scalar() const { return type_ == Type::Scalar; }
  bool is_sequence() const { return type_ == Type::Sequence; }
  bool is_map() const { return type_ == Type::Map; }
  const Origin& origin() const { return origin_; }
  void set_origin(Origin o) { origin_ = std::move(o); }

  // Scalars
  const std::string& text() const { return text_; }
  bool quoted() const { return quoted_; }

  // Sequences
  const std::vector<Node>& items() const { return items_; }
  std::vector<Node>& items() { return items_; }
  void push_back(Node n) { items_.push_back(std::move(n)); }

  // Maps keep their key order, so a resolved spec prints as it was written.
  using Entry = std::pair<std::string, Node>;
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  /// Inserts or replaces `key`.
  Node& set(const std::string& key, Node value);
  bool erase(const std::string& key);

  /// The YAML 1.2 core-schema reading of a plain scalar.
  std::optional<bool> as_bool() const;
  /// Integer scalars; sets `overflow` when the text is an integer beyond int64.
  std::optional<std::int64_t> as_int(bool* overflow = nullptr) const;
  std::optional<double> as_float() const;  ///< ints and floats, NaN and inf included
  bool is_null_scalar() const;

  /// Builds the node for a typed value (used to write defaults into a resolved spec).
  static Node from_value(const Value& v, Origin o = {});

 private:
  Type type_ = Type::Null;
  Origin origin_;
  std::string text_;
  bool quoted_ = false;
  std::vector<Node> items_;
  std::vector<Entry> entries_;
};

/// Emits a node as block YAML.
/// One scalar (or null) as YAML text that reads back as the same value: quoted
/// when it must be, e.g. a string "12" or "it's".
std::string yaml_scalar(const Node& scalar);
std::string to_yaml(const Node& node);

}  // namespace trex
