#include "trex/model/script_archive.h"

#include <ATen/core/ivalue.h>
#include <caffe2/serialize/inline_container.h>

#include <cctype>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "trex/model/pickle_check.h"

namespace trex {
namespace {

constexpr int kMaxTypeDepth = 8;

/// A recursive-descent reader of one line; every method consumes on success only.
class Line {
 public:
  explicit Line(const std::string& s) : s_(s) {}
  bool done() const { return at_ == s_.size(); }
  bool literal(const char* text) {
    const std::size_t n = std::char_traits<char>::length(text);
    if (s_.compare(at_, n, text) != 0) return false;
    at_ += n;
    return true;
  }
  bool identifier() {
    const std::size_t start = at_;
    while (at_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[at_])) || s_[at_] == '_')) ++at_;
    return at_ > start && !std::isdigit(static_cast<unsigned char>(s_[start]));
  }
  /// "text" without quotes, backslashes or control characters inside.
  bool quoted() {
    if (!literal("\"")) return false;
    while (at_ < s_.size() && s_[at_] != '"') {
      const unsigned char c = static_cast<unsigned char>(s_[at_]);
      if (c == '\\' || c < 0x20) return false;
      ++at_;
    }
    return literal("\"");
  }
  /// [ "a", "b", ] or []
  bool string_list() {
    if (!literal("[")) return false;
    while (!literal("]")) {
      if (!quoted() || !literal(", ")) return false;
    }
    return true;
  }
  bool type(int depth = 0) {
    if (depth > kMaxTypeDepth) return false;
    if (literal("__torch__")) {
      while (literal("."))
        if (!identifier()) return false;
      return true;
    }
    for (const char* generic : {"Tuple[", "List[", "Optional[", "Dict["}) {
      if (!literal(generic)) continue;
      if (!type(depth + 1)) return false;
      while (literal(", "))
        if (!type(depth + 1)) return false;
      return literal("]");
    }
    for (const char* plain : {"Tensor", "int", "float", "str", "bool", "NoneType", "Any", "complex"})
      if (literal(plain)) return true;
    return false;
  }

 private:
  const std::string& s_;
  std::size_t at_ = 0;
};

}  // namespace

bool is_declaration_line(const std::string& text) {
  if (text.empty()) return true;
  Line top(text);
  if (top.literal("class ")) return top.identifier() && top.literal("(Module):") && top.done();
  Line l(text);
  if (!l.literal("  ")) return false;
  if (l.literal("__parameters__ = ") || l.literal("__buffers__ = ")) return l.string_list() && l.done();
  if (l.literal("__annotations__ = []")) return l.done();
  if (l.literal("__annotations__[")) return l.quoted() && l.literal("] = ") && l.type() && l.done();
  return l.identifier() && l.literal(" : ") && l.type() && l.done();
}

bool tensor_in_bounds(const at::Tensor& t) {
  if (!t.defined()) return true;
  if (t.layout() != at::kStrided) return false;
  if (t.numel() == 0) return true;
  if (!t.has_storage() || t.storage_offset() < 0) return false;
  // The furthest element reached, in elements; sizes are positive here (numel > 0).
  __int128 last = t.storage_offset();
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) return false;
    last += static_cast<__int128>(t.size(d) - 1) * t.stride(d);
  }
  const __int128 bytes = (last + 1) * static_cast<__int128>(t.element_size());
  return t.storage().data() != nullptr && bytes <= static_cast<__int128>(t.storage().nbytes());
}

// Iterative, with each container seen once: a loaded structure may be deep or cyclic.
void check_tensors(const c10::IValue& root, const std::string& label) {
  std::vector<c10::IValue> todo{root};
  std::unordered_set<const void*> seen;
  while (!todo.empty()) {
    const c10::IValue v = std::move(todo.back());
    todo.pop_back();
    if (v.isTensor()) {
      if (!tensor_in_bounds(v.toTensor()))
        throw std::runtime_error("'" + label +
                                 "' holds a tensor whose shape reaches past its stored data; the file is "
                                 "damaged or was not written by torch.save");
      continue;
    }
    if (v.isPtrType() && !seen.insert(v.internalToPointer()).second) continue;
    if (v.isList()) {
      for (const auto& e : v.toListRef()) todo.push_back(e);
    } else if (v.isGenericDict()) {
      for (const auto& kv : v.toGenericDict()) todo.push_back(kv.key()), todo.push_back(kv.value());
    } else if (v.isTuple()) {
      for (const auto& e : v.toTupleRef().elements()) todo.push_back(e);
    } else if (v.isObject()) {
      const auto object = v.toObject();
      for (std::size_t i = 0; i < object->slots().size(); ++i) todo.push_back(object->getSlot(i));
    }
  }
}

void check_script_archive(caffe2::serialize::PyTorchStreamReader& reader, const std::string& label) {
  for (const auto& name : reader.getAllRecords()) {
    const bool code =
        name.find("code/") != std::string::npos && name.size() > 3 && name.compare(name.size() - 3, 3, ".py") == 0;
    const bool pickle = name.size() > 3 &&
                        (name.compare(name.size() - 4, 4, ".pkl") == 0 || name.find(".debug_pkl") != std::string::npos);
    if (!code && !pickle) continue;
    auto [data, size] = reader.getRecord(name);
    const std::string text(static_cast<const char*>(data.get()), size);
    if (pickle) {
      try {
        check_pickle(text);
      } catch (const std::exception& e) {
        throw std::runtime_error("checkpoint '" + label + "': record " + name + ": " + e.what());
      }
      continue;
    }
    std::istringstream in(text);
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (!is_declaration_line(line))
        throw std::runtime_error("checkpoint '" + label + "': record " + name + " line " + std::to_string(number) +
                                 " is not a declaration trex writes; the file is damaged or was not written by trex");
    }
  }
}

}  // namespace trex
