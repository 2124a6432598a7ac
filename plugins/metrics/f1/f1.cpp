// Precision, recall and F1 from a confusion matrix, with scikit-learn's
// averages (micro, macro, weighted) or for one class. One library answers to
// `f1`, `precision` and `recall` through presets.
#include <ATen/core/Tensor.h>

#include "trex/plugin/export.h"
#include "trex/plugin/metric.h"

namespace trex_f1 {
using namespace trex;

struct F1Options {
  std::string score = "f1";       ///< f1 | precision | recall
  std::string average = "macro";  ///< micro | macro | weighted
  std::int64_t class_index = -1;  ///< >= 0: that class alone, average ignored
};

class F1 : public Metric {
 public:
  explicit F1(F1Options o) : o_(std::move(o)) {}
  void reset() override { confusion_.clear(); }
  void add(const MetricBatch& b) override {
    const auto k = static_cast<std::size_t>(b.logits.size(1));
    if (confusion_.empty()) confusion_.assign(k, std::vector<std::int64_t>(k, 0));
    auto pred = b.logits.argmax(1).to(at::kLong).contiguous();
    auto target = b.targets.to(at::kLong).contiguous();
    const auto* p = pred.data_ptr<std::int64_t>();
    const auto* t = target.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < pred.numel(); ++i)
      ++confusion_[static_cast<std::size_t>(t[i])][static_cast<std::size_t>(p[i])];
  }
  double value() const override {
    const std::size_t k = confusion_.size();
    if (!k) return 0;
    std::vector<double> tp(k), fp(k), fn(k);
    double total = 0;
    for (std::size_t t = 0; t < k; ++t)
      for (std::size_t p = 0; p < k; ++p) {
        const double n = static_cast<double>(confusion_[t][p]);
        total += n;
        if (t == p)
          tp[t] += n;
        else
          fp[p] += n, fn[t] += n;
      }
    auto score = [&](double tp_, double fp_, double fn_) {
      const double precision = tp_ + fp_ > 0 ? tp_ / (tp_ + fp_) : 0, recall = tp_ + fn_ > 0 ? tp_ / (tp_ + fn_) : 0;
      if (o_.score == "precision") return precision;
      if (o_.score == "recall") return recall;
      return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    };
    if (o_.class_index >= 0) {
      const auto c = static_cast<std::size_t>(o_.class_index);
      return c < k ? score(tp[c], fp[c], fn[c]) : 0.0;
    }
    if (o_.average == "micro") {
      double a = 0, b = 0, c = 0;
      for (std::size_t i = 0; i < k; ++i) a += tp[i], b += fp[i], c += fn[i];
      return score(a, b, c);
    }
    double sum = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const double weight =
          o_.average == "weighted" ? (total > 0 ? (tp[i] + fn[i]) / total : 0) : 1.0 / static_cast<double>(k);
      sum += weight * score(tp[i], fp[i], fn[i]);
    }
    return sum;
  }

 private:
  F1Options o_;
  std::vector<std::vector<std::int64_t>> confusion_;  ///< [true][predicted]
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    using T = ParamType;
    Descriptor d = make_descriptor(
        Kind::Metric, "f1", "1.0.0",
        "F1, precision or recall (scikit-learn definitions; micro, macro or weighted average)",
        {ParamSpec("score", T::String, "which score").def(std::string("f1")).one_of({"f1", "precision", "recall"}),
         ParamSpec("average", T::String, "how classes are combined")
             .def(std::string("macro"))
             .one_of({"micro", "macro", "weighted"}),
         ParamSpec("class_index", T::Int, "score of this class alone; -1: the average")
             .def(std::int64_t{-1})
             .range(-1, 1 << 20)});
    d.presets = {{"precision", "precision (average as set)", {{"score", std::string("precision")}}},
                 {"recall", "recall (average as set)", {{"score", std::string("recall")}}},
                 {"weighted_f1",
                  "F1, support-weighted average",
                  {{"score", std::string("f1")}, {"average", std::string("weighted")}}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<F1>(F1Options{p.get_string("score"), p.get_string("average"), p.get_int("class_index")});
}

}  // namespace trex_f1

TREX_PLUGIN(trex_f1::descriptor, trex_f1::create)
