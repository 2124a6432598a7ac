#pragma once
// Building a backbone only up to its cut (BuildContext::cut): which stages a
// run needs, so the modules only later stages use are never constructed,
// initialised or loaded (VGG16 cut at block5_pool leaves out 124 M of its
// 138 M parameters). An optional kit, not part of the plugin contract.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace trex {

class StagePlan {
 public:
  /// `stages` in forward order (Model::stages); `cut` empty or one of them.
  StagePlan(std::vector<std::string> stages, std::string cut) : stages_(std::move(stages)), cut_(std::move(cut)) {
    const auto it = std::find(stages_.begin(), stages_.end(), cut_);
    last_ = it == stages_.end() ? stages_.size() : static_cast<std::size_t>(it - stages_.begin());
  }
  /// True when `stage` runs at or before the cut (every stage without one;
  /// names that are not stages count as needed).
  bool needs(const std::string& stage) const {
    const auto it = std::find(stages_.begin(), stages_.end(), stage);
    return it == stages_.end() || static_cast<std::size_t>(it - stages_.begin()) <= last_;
  }
  /// For forward_until: refuses a stage that was not built.
  void check(const std::string& stage, const std::string& model) const {
    if (!needs(stage))
      throw std::runtime_error(model + " was built up to its cut '" + cut_ + "'; stage '" + stage + "' lies past it");
  }
  const std::string& cut() const { return cut_; }

 private:
  std::vector<std::string> stages_;
  std::string cut_;
  std::size_t last_;
};

}  // namespace trex
