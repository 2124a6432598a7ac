#include "trex/registry/diagnostics.h"

#include <algorithm>

namespace trex {

std::string SpecIssue::format() const {
  std::string out = origin.str() + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

namespace {
std::string join_issues(const std::vector<SpecIssue>& issues) {
  std::string out;
  for (size_t i = 0; i < issues.size(); ++i) {
    if (i) out += "\n";
    out += issues[i].format();
  }
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

SpecError::SpecError(std::vector<SpecIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string closest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(name, c);
    // A leading part ("val_acc" of "val_accuracy") is a near miss whatever its length.
    if (name.size() >= 3 && c.rfind(name, 0) == 0) d = std::min(d, best_d - 1);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string c = closest(name, candidates);
  return c.empty() ? "" : " (did you mean '" + c + "'?)";
}

}  // namespace trex
