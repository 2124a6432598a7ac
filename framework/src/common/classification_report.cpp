#include "trex/common/classification_report.h"

#include <cstdio>
#include <stdexcept>

namespace trex {

ClassificationReport classification_report(const std::vector<std::int64_t>& labels,
                                           const std::vector<std::int64_t>& predicted,
                                           const std::vector<std::string>& class_names) {
  if (labels.size() != predicted.size()) throw std::invalid_argument("labels and predictions differ in length");
  const std::size_t k = class_names.size();
  ClassificationReport r;
  r.confusion.assign(k, std::vector<std::int64_t>(k, 0));
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto t = static_cast<std::size_t>(labels[i]), p = static_cast<std::size_t>(predicted[i]);
    if (t >= k || p >= k) throw std::out_of_range("class index beyond the class list at example " + std::to_string(i));
    ++r.confusion[t][p];
    correct += t == p;
  }
  const double n = static_cast<double>(labels.size());
  r.accuracy = labels.empty() ? 0 : static_cast<double>(correct) / n;
  r.macro.name = "macro avg";
  r.weighted.name = "weighted avg";
  for (std::size_t c = 0; c < k; ++c) {
    std::int64_t tp = r.confusion[c][c], fp = 0, fn = 0;
    for (std::size_t o = 0; o < k; ++o)
      if (o != c) fp += r.confusion[o][c], fn += r.confusion[c][o];
    ClassRow row;
    row.name = class_names[c];
    row.support = tp + fn;
    row.precision = tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0;
    row.recall = tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0;
    row.f1 = row.precision + row.recall > 0 ? 2 * row.precision * row.recall / (row.precision + row.recall) : 0;
    r.classes.push_back(row);
    r.macro.precision += row.precision / static_cast<double>(k);
    r.macro.recall += row.recall / static_cast<double>(k);
    r.macro.f1 += row.f1 / static_cast<double>(k);
    const double w = n > 0 ? static_cast<double>(row.support) / n : 0;
    r.weighted.precision += w * row.precision;
    r.weighted.recall += w * row.recall;
    r.weighted.f1 += w * row.f1;
  }
  r.macro.support = r.weighted.support = static_cast<std::int64_t>(labels.size());
  return r;
}

std::string ClassificationReport::table() const {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-16s %9s %9s %9s %9s\n", "", "precision", "recall", "f1-score", "support");
  out += line;
  auto row = [&](const ClassRow& r) {
    std::snprintf(line, sizeof line, "%-16.16s %9.4f %9.4f %9.4f %9lld\n", r.name.c_str(), r.precision, r.recall, r.f1,
                  static_cast<long long>(r.support));
    out += line;
  };
  for (const auto& c : classes) row(c);
  std::snprintf(line, sizeof line, "\n%-16s %9s %9s %9.4f %9lld\n", "accuracy", "", "", accuracy,
                static_cast<long long>(macro.support));
  out += line;
  row(macro);
  row(weighted);
  return out;
}

}  // namespace trex
