#include "trex/train/test_report.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "trex/common/classification_report.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

void write_predictions(const fs::path& csv, const SplitPlan& plan, const std::vector<Prediction>& predictions) {
  std::ofstream out(csv);
  out << "index,split,label,predicted,confidence\n";
  for (const auto& p : predictions) {
    const SampleRef& ref = plan.test[p.position];
    out << ref.index << "," << ref.split << "," << p.label << "," << p.predicted << "," << p.confidence << "\n";
  }
}

void write_confusion(const fs::path& csv, const ClassificationReport& report, const std::vector<std::string>& names) {
  std::ofstream out(csv);
  out << "true\\predicted";
  for (const auto& name : names) out << ",\"" << name << "\"";
  out << "\n";
  for (std::size_t t = 0; t < report.confusion.size(); ++t) {
    out << "\"" << names[t] << "\"";
    for (auto n : report.confusion[t]) out << "," << n;
    out << "\n";
  }
}

}  // namespace

void append_predictions(const MetricBatch& batch, const std::vector<std::size_t>& positions,
                        std::vector<Prediction>& out) {
  auto [conf, pred] = batch.logits.softmax(1).max(1);
  conf = conf.cpu();
  pred = pred.cpu();
  const at::Tensor labels = batch.targets.cpu();
  auto c = conf.accessor<float, 1>();
  auto p = pred.accessor<std::int64_t, 1>();
  auto l = labels.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < pred.size(0); ++i)
    out.push_back({positions[static_cast<std::size_t>(i)], l[i], p[i], c[i]});
}

void record_test(RunRecorder& recorder, const Experiment& parts, const std::map<std::string, double>& values,
                 const std::vector<Prediction>& predictions, const std::string& which, std::int64_t epoch, bool quiet) {
  std::vector<MetricRow> rows;
  for (const auto& [name, v] : values) rows.push_back({epoch, "test", name, v, 0});
  recorder.record(epoch, rows);
  const fs::path dir = recorder.run_dir();
  write_predictions(dir / "test_predictions.csv", parts.plan, predictions);
  recorder.add_artifact("test_predictions", "test_predictions.csv",
                        file_checksum((dir / "test_predictions.csv").string()));
  recorder.add_artifact("test_checkpoint", "checkpoints/" + which + ".pt", which);
  std::vector<std::int64_t> labels, predicted;
  for (const auto& p : predictions) labels.push_back(p.label), predicted.push_back(p.predicted);
  const ClassificationReport report = classification_report(labels, predicted, parts.class_names);
  recorder.store().add_evaluation(
      recorder.run_id(), which, "split:test",
      {{"accuracy", report.accuracy}, {"macro_f1", report.macro.f1}, {"weighted_f1", report.weighted.f1}}, report);
  write_confusion(dir / "confusion_matrix.csv", report, parts.class_names);
  recorder.add_artifact("confusion_matrix", "confusion_matrix.csv",
                        file_checksum((dir / "confusion_matrix.csv").string()));
  if (quiet) return;
  std::cout << report.table();
  std::cout << "test (" << which << " checkpoint, epoch " << epoch << "):";
  for (const auto& [name, v] : values) std::cout << "  test_" << name << " " << v;
  std::cout << "\n";
}

}  // namespace trex
