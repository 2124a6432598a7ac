#pragma once
// Storage for datasets that hold a train and a test split as fixed-size byte
// records in memory (IDX, CIFAR): the bytes, the labels, and the lookup by
// split name that every such dataset needs.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace trex {

struct ByteSplit {
  std::vector<unsigned char> pixels;  ///< record after record
  std::vector<std::int64_t> labels;   ///< one per record
};

class TrainTestBytes {
 public:
  explicit TrainTestBytes(std::string owner) : owner_(std::move(owner)) {}
  ByteSplit& get(const std::string& split) {
    return const_cast<ByteSplit&>(static_cast<const TrainTestBytes&>(*this).get(split));
  }
  const ByteSplit& get(const std::string& split) const {
    if (split == "train") return train_;
    if (split == "test") return test_;
    throw std::invalid_argument(owner_ + ": no split '" + split + "'; it has train and test");
  }

 private:
  std::string owner_;
  ByteSplit train_, test_;
};

}  // namespace trex
