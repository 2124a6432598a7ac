#pragma once
// Spec errors name the file, line:column and dotted key path (yacs + yaml-cpp's
// Mark). They are collected, so a user sees every problem of a spec at once.
#include <stdexcept>
#include <string>
#include <vector>

#include "trex/registry/node.h"

namespace trex {

struct SpecIssue {
  Origin origin;
  std::string path;  ///< dotted key path, e.g. "train.optimizer.lr"
  std::string message;
  std::string format() const;
};

class SpecError : public std::runtime_error {
 public:
  explicit SpecError(std::vector<SpecIssue> issues);
  const std::vector<SpecIssue>& issues() const { return issues_; }

 private:
  std::vector<SpecIssue> issues_;
};

class Diagnostics {
 public:
  void add(const Origin& origin, const std::string& path, const std::string& message) {
    issues_.push_back({origin, path, message});
  }
  bool empty() const { return issues_.empty(); }
  const std::vector<SpecIssue>& issues() const { return issues_; }
  void throw_if_any() const {
    if (!issues_.empty()) throw SpecError(issues_);
  }

 private:
  std::vector<SpecIssue> issues_;
};

/// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string join_path(const std::string& parent, const std::string& key);

/// The candidate closest to `name` by edit distance, or "" when none is close.
std::string closest(const std::string& name, const std::vector<std::string>& candidates);
/// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace trex
