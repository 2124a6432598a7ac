#pragma once
// torch.save(model.state_dict(), f) pickles a collections.OrderedDict, which
// LibTorch 1.13's unpickler turns into None. This rewrites such a pickle so it
// reads as a plain dict: OrderedDict() calls become empty dicts and the
// attributes set on them (_metadata) are dropped; tensors are untouched.
#include <cstddef>
#include <string>

namespace trex {

/// The pickle program with OrderedDict construction replaced by dicts.
std::string pickle_without_ordered_dict(const std::string& pickle);

}  // namespace trex
