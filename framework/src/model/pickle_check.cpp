#include "trex/model/pickle_check.h"

#include <array>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace trex {
namespace {

// How an opcode's argument is laid out (Python's pickletools, protocols 0-5).
enum class Arg {
  None,           // no argument
  Fixed,          // `fixed` bytes
  Line,           // text up to and including a newline
  TwoLines,       // GLOBAL / INST: module and name, each newline-terminated
  Counted,        // a little-endian length of `fixed` bytes, then that many bytes
  SignedCounted,  // the same with a signed 4-byte length that must not be negative
};

struct OpcodeInfo {
  const char* name;
  Arg arg;
  int fixed;
};

// Every opcode of pickle protocols 0 to 5, by byte; an unnamed entry is not an opcode.
const OpcodeInfo& info(unsigned char op) {
  static const auto table = [] {
    std::array<OpcodeInfo, 256> t{};
    auto set = [&](unsigned char b, const char* name, Arg arg, int fixed = 0) { t[b] = {name, arg, fixed}; };
    // A table, two opcodes a line.
    // clang-format off
    set('(', "MARK", Arg::None);             set('.', "STOP", Arg::None);
    set('0', "POP", Arg::None);              set('1', "POP_MARK", Arg::None);
    set('2', "DUP", Arg::None);              set('F', "FLOAT", Arg::Line);
    set('I', "INT", Arg::Line);              set('J', "BININT", Arg::Fixed, 4);
    set('K', "BININT1", Arg::Fixed, 1);      set('L', "LONG", Arg::Line);
    set('M', "BININT2", Arg::Fixed, 2);      set('N', "NONE", Arg::None);
    set('P', "PERSID", Arg::Line);           set('Q', "BINPERSID", Arg::None);
    set('R', "REDUCE", Arg::None);           set('S', "STRING", Arg::Line);
    set('T', "BINSTRING", Arg::SignedCounted, 4);
    set('U', "SHORT_BINSTRING", Arg::Counted, 1);
    set('V', "UNICODE", Arg::Line);          set('X', "BINUNICODE", Arg::Counted, 4);
    set('a', "APPEND", Arg::None);           set('b', "BUILD", Arg::None);
    set('c', "GLOBAL", Arg::TwoLines);       set('d', "DICT", Arg::None);
    set('}', "EMPTY_DICT", Arg::None);       set('e', "APPENDS", Arg::None);
    set('g', "GET", Arg::Line);              set('h', "BINGET", Arg::Fixed, 1);
    set('i', "INST", Arg::TwoLines);         set('j', "LONG_BINGET", Arg::Fixed, 4);
    set('l', "LIST", Arg::None);             set(']', "EMPTY_LIST", Arg::None);
    set('o', "OBJ", Arg::None);              set('p', "PUT", Arg::Line);
    set('q', "BINPUT", Arg::Fixed, 1);       set('r', "LONG_BINPUT", Arg::Fixed, 4);
    set('s', "SETITEM", Arg::None);          set('t', "TUPLE", Arg::None);
    set(')', "EMPTY_TUPLE", Arg::None);      set('u', "SETITEMS", Arg::None);
    set('G', "BINFLOAT", Arg::Fixed, 8);
    set(0x80, "PROTO", Arg::Fixed, 1);       set(0x81, "NEWOBJ", Arg::None);
    set(0x82, "EXT1", Arg::Fixed, 1);        set(0x83, "EXT2", Arg::Fixed, 2);
    set(0x84, "EXT4", Arg::Fixed, 4);        set(0x85, "TUPLE1", Arg::None);
    set(0x86, "TUPLE2", Arg::None);          set(0x87, "TUPLE3", Arg::None);
    set(0x88, "NEWTRUE", Arg::None);         set(0x89, "NEWFALSE", Arg::None);
    set(0x8a, "LONG1", Arg::Counted, 1);     set(0x8b, "LONG4", Arg::SignedCounted, 4);
    set('B', "BINBYTES", Arg::Counted, 4);   set('C', "SHORT_BINBYTES", Arg::Counted, 1);
    set(0x8c, "SHORT_BINUNICODE", Arg::Counted, 1);
    set(0x8d, "BINUNICODE8", Arg::Counted, 8);
    set(0x8e, "BINBYTES8", Arg::Counted, 8);
    set(0x8f, "EMPTY_SET", Arg::None);       set(0x90, "ADDITEMS", Arg::None);
    set(0x91, "FROZENSET", Arg::None);       set(0x92, "NEWOBJ_EX", Arg::None);
    set(0x93, "STACK_GLOBAL", Arg::None);    set(0x94, "MEMOIZE", Arg::None);
    set(0x95, "FRAME", Arg::Fixed, 8);       set(0x96, "BYTEARRAY8", Arg::Counted, 8);
    set(0x97, "NEXT_BUFFER", Arg::None);     set(0x98, "READONLY_BUFFER", Arg::None);
    // clang-format on
    return t;
  }();
  return table[op];
}

[[noreturn]] void refuse(const std::string& what, std::size_t at) {
  throw std::runtime_error("pickle: " + what + " at byte " + std::to_string(at));
}

std::size_t line_end(const std::string& in, std::size_t from, std::size_t op_at) {
  const std::size_t nl = in.find('\n', from);
  if (nl == std::string::npos)
    refuse(std::string(info(static_cast<unsigned char>(in[op_at])).name) + " without its newline", op_at);
  return nl + 1;
}

}  // namespace

const char* opcode_name(unsigned char op) { return info(op).name; }

std::uint64_t read_le(const std::string& s, std::size_t at, int bytes) {
  if (bytes > 8 || at > s.size() || s.size() - at < static_cast<std::size_t>(bytes)) refuse("truncated argument", at);
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

std::size_t opcode_length(const std::string& in, std::size_t i) {
  if (i >= in.size()) refuse("read past the end", i);
  const unsigned char op = static_cast<unsigned char>(in[i]);
  const OpcodeInfo& o = info(op);
  if (!o.name) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    refuse(std::string("unknown opcode ") + hex + " (not pickle protocol 0-5)", i);
  }
  const std::size_t left = in.size() - i - 1;  // bytes after the opcode
  switch (o.arg) {
    case Arg::None: return 1;
    case Arg::Fixed:
      if (left < static_cast<std::size_t>(o.fixed)) refuse(std::string(o.name) + " argument truncated", i);
      return 1 + static_cast<std::size_t>(o.fixed);
    case Arg::Line: return line_end(in, i + 1, i) - i;
    case Arg::TwoLines: return line_end(in, line_end(in, i + 1, i), i) - i;
    case Arg::Counted:
    case Arg::SignedCounted: {
      const std::uint64_t n = read_le(in, i + 1, o.fixed);
      if (o.arg == Arg::SignedCounted && (n & 0x80000000ULL))
        refuse(std::string(o.name) + " with a negative length", i);
      // The length is believed only after it is checked against what is left.
      if (n > left - static_cast<std::size_t>(o.fixed))
        refuse(std::string(o.name) + " claims " + std::to_string(n) + " bytes but " +
                   std::to_string(left - static_cast<std::size_t>(o.fixed)) + " remain",
               i);
      return 1 + static_cast<std::size_t>(o.fixed) + static_cast<std::size_t>(n);
    }
  }
  refuse("unreachable", i);
}

namespace {

/// The pickle machine over abstract values: what each value is (a leaf, an
/// immutable tuple, or a mutable container or object), how deep it nests, and
/// whether it is still being built (on the stack) or already placed in another.
class Machine {
 public:
  explicit Machine(const std::string& in) : in_(in) {}

  void step(std::size_t at, std::size_t n) {
    at_ = at;
    const unsigned char op = static_cast<unsigned char>(in_[at]);
    if (!stack_op(op) && !make_op(op) && !fill_op(op) && !memo_op(op, at, n))
      push(Kind::Leaf, 0);  // every other opcode pushes one constant
  }

 private:
  /// Marks, STOP, POP, DUP, PROTO, FRAME.
  bool stack_op(unsigned char op) {
    switch (op) {
      case '(': marks_.push_back(stack_.size()); return true;
      case '.':
        if (stack_.size() != 1 || !marks_.empty()) fail("STOP with " + std::to_string(stack_.size()) + " values left");
        return true;
      case '0':
        if (!stack_.empty() && (marks_.empty() || marks_.back() < stack_.size()))
          pop();
        else
          pop_mark();
        return true;
      case '1': pop_mark(); return true;
      case '2':
        if (top().mutable_) fail("DUP of a container");
        push_same(stack_.back());
        return true;
      case 0x80:
      case 0x95: return true;  // PROTO, FRAME
      default: return false;
    }
  }

  /// Opcodes that make a new value from what is on the stack.
  bool make_op(unsigned char op) {
    switch (op) {
      case ']':
      case '}':
      case 0x8f: push(Kind::Mutable, 1); return true;
      case ')': push(Kind::Leaf, 1); return true;
      case 'Q':
      case 0x98: pop(), push(Kind::Leaf, 0); return true;
      case 0x93: pop(), pop(), push(Kind::Leaf, 0); return true;
      case 'R':
      case 0x81: {
        const int args = pop();
        pop();
        push(Kind::Mutable, args);
        return true;
      }
      case 0x92: {
        const int kwargs = pop(), args = pop();
        pop();
        push(Kind::Mutable, std::max(args, kwargs));
        return true;
      }
      case 't':
      case 0x91: push(Kind::Leaf, pop_mark() + 1); return true;
      case 'l':
      case 'd': push(Kind::Mutable, pop_mark() + 1); return true;
      case 'i':
      case 'o': push(Kind::Mutable, pop_mark()); return true;
      case 0x85:
      case 0x86:
      case 0x87: {
        int h = 0;
        for (int k = 0; k < op - 0x84; ++k) h = std::max(h, pop());
        push(Kind::Leaf, h + 1);
        return true;
      }
      default: return false;
    }
  }

  /// Opcodes that put values into the container (or object) below them.
  bool fill_op(unsigned char op) {
    switch (op) {
      case 'b':
      case 'a': {
        const int v = pop_index();  // BUILD's state, APPEND's item
        insert(top_index(), v);
        return true;
      }
      case 's': {
        const int v = pop_index(), k = pop_index();
        insert(top_index(), k), insert(top_index(), v);
        return true;
      }
      case 'e':
      case 'u':
      case 0x90: {
        const std::vector<int> items = pop_mark_indices();
        for (int v : items) insert(top_index(), v);
        return true;
      }
      default: return false;
    }
  }

  bool memo_op(unsigned char op, std::size_t at, std::size_t n) {
    switch (op) {
      case 'q':
      case 'r':
      case 'p': put(slot(at, n)); return true;
      case 0x94: put(static_cast<std::int64_t>(memo_.size())); return true;
      case 'h':
      case 'j':
      case 'g': get(slot(at, n)); return true;
      default: return false;
    }
  }

  enum class Kind { Leaf, Mutable };
  struct Value {
    int height = 0;
    bool mutable_ = false, placed = false;
    int on_stack = 0;
  };

  [[noreturn]] void fail(const std::string& what) const { refuse(what, at_); }

  void push(Kind kind, int height) {
    if (height > kMaxPickleDepth) fail("containers nested deeper than " + std::to_string(kMaxPickleDepth) + " levels");
    values_.push_back({height, kind == Kind::Mutable, false, 0});
    push_same(static_cast<int>(values_.size()) - 1);
  }
  void push_same(int v) {
    stack_.push_back(v);
    ++values_[static_cast<std::size_t>(v)].on_stack;
  }
  Value& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      fail("an opcode needs a value the stack does not hold");
    return values_[static_cast<std::size_t>(stack_.back())];
  }
  int top_index() {
    top();
    return stack_.back();
  }
  int pop_index() {
    const int v = top_index();
    stack_.pop_back();
    Value& value = values_[static_cast<std::size_t>(v)];
    --value.on_stack;
    value.placed = true;  // consumed: it now lives inside whatever the opcode builds
    return v;
  }
  int pop() { return values_[static_cast<std::size_t>(pop_index())].height; }
  std::vector<int> pop_mark_indices() {
    if (marks_.empty()) fail("a MARK-consuming opcode without a MARK");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<int> out(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    for (std::size_t k = stack_.size(); k > mark; --k) {
      Value& v = values_[static_cast<std::size_t>(stack_[k - 1])];
      --v.on_stack;
      v.placed = true;
    }
    stack_.resize(mark);
    return out;
  }
  int pop_mark() {
    int h = 0;
    for (int v : pop_mark_indices()) h = std::max(h, values_[static_cast<std::size_t>(v)].height);
    return h;
  }
  /// `child` goes into the container `parent` (APPEND, SETITEM, BUILD, ...).
  void insert(int parent, int child) {
    Value& p = values_[static_cast<std::size_t>(parent)];
    if (!p.mutable_) fail("an opcode adds to a value that is not a container");
    if (p.placed) fail("a container changed after it was placed in another (shared mutable structure)");
    if (parent == child) fail("a container placed inside itself");
    p.height = std::max(p.height, values_[static_cast<std::size_t>(child)].height + 1);
    if (p.height > kMaxPickleDepth)
      fail("containers nested deeper than " + std::to_string(kMaxPickleDepth) + " levels");
  }
  std::int64_t slot(std::size_t at, std::size_t n) const {
    const unsigned char op = static_cast<unsigned char>(in_[at]);
    if (op == 'q' || op == 'h') return static_cast<std::int64_t>(read_le(in_, at + 1, 1));
    if (op == 'r' || op == 'j') return static_cast<std::int64_t>(read_le(in_, at + 1, 4));
    std::int64_t v = 0;  // PUT / GET: decimal text up to the newline
    for (std::size_t k = at + 1; k + 1 < at + n; ++k) {
      if (in_[k] < '0' || in_[k] > '9' || v > (std::int64_t{1} << 40))
        refuse("a memo index that is not a small number", at);
      v = v * 10 + (in_[k] - '0');
    }
    return v;
  }
  // Memo slots are numbered as they are filled (Python's pickler does so);
  // LibTorch's unpickler sizes its memo by the largest index it sees, so an
  // index past the slots filled so far would make it allocate gigabytes.
  void put(std::int64_t s) {
    if (s > static_cast<std::int64_t>(memo_.size()))
      fail("memo slot " + std::to_string(s) + " set when " + std::to_string(memo_.size()) + " are filled");
    const int v = top_index();
    if (s == static_cast<std::int64_t>(memo_.size()))
      memo_.push_back(v);
    else
      memo_[static_cast<std::size_t>(s)] = v;
  }
  void get(std::int64_t s) {
    if (s >= static_cast<std::int64_t>(memo_.size()))
      fail("memo slot " + std::to_string(s) + " read when " + std::to_string(memo_.size()) + " are filled");
    const int v = memo_[static_cast<std::size_t>(s)];
    const Value& value = values_[static_cast<std::size_t>(v)];
    if (value.mutable_ && value.on_stack > 0) fail("a container referenced while it is still being built (a cycle)");
    push_same(v);
  }

  const std::string& in_;
  std::size_t at_ = 0;
  std::vector<Value> values_;
  std::vector<int> stack_, memo_;
  std::vector<std::size_t> marks_;
};

}  // namespace

void check_pickle(const std::string& in) {
  if (in.size() > kMaxPickleBytes)
    throw std::runtime_error("pickle: data.pkl is " + std::to_string(in.size()) + " bytes, over the " +
                             std::to_string(kMaxPickleBytes) + "-byte limit for a state dict's structure");
  Machine machine(in);
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t n = opcode_length(in, i);
    machine.step(i, n);
    if (in[i] == '.') break;
    i += n;
  }
  if (i >= in.size()) refuse("no STOP opcode at the end", in.size());
  if (i + 1 != in.size()) refuse("bytes after STOP", i + 1);
}

}  // namespace trex
