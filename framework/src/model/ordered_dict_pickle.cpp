#include "trex/model/ordered_dict_pickle.h"

#include <set>
#include <stdexcept>

#include "trex/model/pickle_check.h"

namespace trex {

// The state a state_dict's BUILD applies ({'_metadata': ...}) uses SETITEM
// and BUILD, which LibTorch's unpickler lacks: drop it, from its EMPTY_DICT to
// the BUILD just before STOP.
std::string without_metadata_state(const std::string& in) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < in.size(); i += opcode_length(in, i)) starts.push_back(i);
  const std::size_t n = starts.size();
  if (n < 3 || in[starts[n - 1]] != '.' || in[starts[n - 2]] != 'b') return in;
  for (std::size_t k = 0; k + 1 < n; ++k) {
    const std::size_t at = starts[k];
    if (in[at] != 'X' || in.compare(at + 1, 13, std::string("\x09\x00\x00\x00_metadata", 13)) != 0) continue;
    std::size_t d = k;  // back over a BINPUT to the state's EMPTY_DICT
    if (d > 0 && (in[starts[d - 1]] == 'q' || in[starts[d - 1]] == 'r')) --d;
    if (d == 0 || in[starts[d - 1]] != '}') continue;
    std::string out = in.substr(0, starts[d - 1]) + in.substr(starts[n - 1]);
    try {
      check_pickle(out);  // the dropped state must have been BUILD's argument, not the object itself
      return out;
    } catch (const std::runtime_error&) {
      return in;
    }
  }
  return in;
}

std::string pickle_without_ordered_dict(const std::string& in) {
  if (in.size() > kMaxPickleBytes)
    throw std::runtime_error("pickle: data.pkl is " + std::to_string(in.size()) + " bytes, over the " +
                             std::to_string(kMaxPickleBytes) + "-byte limit for a state dict's structure");
  std::string out;
  std::set<std::uint64_t> class_slots;  // memo slots that hold collections.OrderedDict
  std::size_t i = 0;
  auto at = [&](std::size_t k, char op) { return k < in.size() && in[k] == op; };
  while (i < in.size()) {
    const std::size_t n = opcode_length(in, i);
    const unsigned char op = static_cast<unsigned char>(in[i]);
    // The class: GLOBAL collections.OrderedDict, or a memo lookup of it.
    bool is_class = false;
    if (op == 'c') is_class = in.compare(i + 1, n - 2, "collections\nOrderedDict") == 0;
    if (op == 'h') is_class = class_slots.count(read_le(in, i + 1, 1)) > 0;
    if (op == 'j') is_class = class_slots.count(read_le(in, i + 1, 4)) > 0;
    if (!is_class) {
      out.append(in, i, n);
      i += n;
      continue;
    }
    // class [BINPUT k] EMPTY_TUPLE REDUCE  ->  EMPTY_DICT [BINPUT k]
    std::size_t k = i + n;
    std::string memo;
    if (at(k, 'q') || at(k, 'r')) {
      const std::size_t m = opcode_length(in, k);
      class_slots.insert(read_le(in, k + 1, in[k] == 'q' ? 1 : 4));
      memo = in.substr(k, m);  // the slot gets the dict: it is never read again (lookups are rewritten too)
      k += m;
    }
    if (!at(k, ')') || !at(k + 1, 'R'))
      throw std::runtime_error("an OrderedDict built other than as OrderedDict() (at byte " + std::to_string(i) + ")");
    out += '}';
    out += memo;
    i = k + 2;
  }
  return without_metadata_state(out);
}

}  // namespace trex
