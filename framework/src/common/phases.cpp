#include "trex/common/phases.h"

#include <cstdio>

namespace trex {

void Phases::mark(const std::string& name) {
  const auto now = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(now - last_).count() - taken_;
  last_ = now;
  taken_ = 0;
  add(name, s);
}

void Phases::take(const std::string& name, double seconds) {
  taken_ += seconds;
  add(name, seconds);
}

void Phases::add(const std::string& name, double seconds) {
  for (auto& [n, total] : spent_)
    if (n == name) {
      total += seconds;
      return;
    }
  spent_.emplace_back(name, seconds);
}

double Phases::seconds(const std::string& name) const {
  for (const auto& [n, s] : spent_)
    if (n == name) return s;
  return 0;
}

double Phases::total() const {
  double t = 0;
  for (const auto& p : spent_) t += p.second;
  return t;
}

std::string Phases::line() const {
  std::string out = "phases:";
  char buf[64];
  for (std::size_t i = 0; i < spent_.size(); ++i) {
    std::snprintf(buf, sizeof buf, " %.2f s", spent_[i].second);
    out += (i ? ", " : " ") + spent_[i].first + buf;
  }
  std::snprintf(buf, sizeof buf, " (total %.2f s)", total());
  return out + buf;
}

}  // namespace trex
