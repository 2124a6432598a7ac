#pragma once
// Classification report from labels and predictions (scikit-learn's
// definitions: precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their
// harmonic mean, 0 where a denominator is 0). Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace trex {

struct ClassRow {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;
  std::int64_t support = 0;
};

struct ClassificationReport {
  std::vector<ClassRow> classes;
  double accuracy = 0;
  ClassRow macro, weighted;
  std::vector<std::vector<std::int64_t>> confusion;  ///< [true][predicted]
  std::string table() const;                         ///< printed like sklearn's classification_report
};

ClassificationReport classification_report(const std::vector<std::int64_t>& labels,
                                           const std::vector<std::int64_t>& predicted,
                                           const std::vector<std::string>& class_names);

}  // namespace trex
