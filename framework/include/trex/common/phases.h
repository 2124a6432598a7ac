#pragma once
// Where a command's wall time went, phase by phase: `trex run --verbose`
// prints the line at the end ("phases: plugins 0.05 s, build 0.31 s, ...").
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace trex {

class Phases {
 public:
  Phases() : last_(std::chrono::steady_clock::now()) {}
  /// Ends the phase that ran since the previous mark (or construction) and
  /// names it; a name marked twice adds up.
  void mark(const std::string& name);
  /// Adds `seconds` to `name` and takes them out of the phase now running
  /// (a part of it measured apart, e.g. the features read inside epoch 1).
  void take(const std::string& name, double seconds);
  /// Adds `seconds` spent before this clock started (e.g. loading the libraries).
  void add(const std::string& name, double seconds);
  double seconds(const std::string& name) const;
  double total() const;
  /// "phases: NAME S s, ... (total S s)", in the order first marked.
  std::string line() const;

 private:
  std::chrono::steady_clock::time_point last_;
  double taken_ = 0;  ///< seconds of the running phase already given to others
  std::vector<std::pair<std::string, double>> spent_;
};

/// Marks `name` when `phases` is set: the trainer and the loaders take an
/// optional clock.
inline void mark_phase(Phases* phases, const std::string& name) {
  if (phases) phases->mark(name);
}

/// Times its own life as phase `name`, within whatever phase runs around it.
class PhaseScope {
 public:
  PhaseScope(Phases* phases, std::string name)
      : phases_(phases), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
  ~PhaseScope() {
    if (phases_) phases_->take(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phases* phases_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace trex
