#pragma once
// torch.save(model.state_dict(), f) pickles a collections.OrderedDict, which
// LibTorch 1.13's unpickler turns into None. These rewrite such a file so it
// reads as a plain dict: OrderedDict() calls become empty dicts and the
// attributes set on them (_metadata) are dropped; tensors are untouched.
#include <cstddef>
#include <string>
#include <vector>

namespace trex {

/// The pickle program with OrderedDict construction replaced by dicts.
std::string pickle_without_ordered_dict(const std::string& pickle);
/// A torch.save zip archive with its data.pkl rewritten as above.
std::vector<char> archive_without_ordered_dict(const std::vector<char>& archive);

}  // namespace trex
