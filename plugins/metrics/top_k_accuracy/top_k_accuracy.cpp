// Share of examples whose target is among the k highest logits.
#include "trex/plugin/export.h"
#include "trex/plugin/metric.h"

namespace trex_top_k {
using namespace trex;

class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(std::int64_t k) : k_(k) {}
  void reset() override { correct_ = total_ = 0; }
  void add(const MetricBatch& b) override {
    const std::int64_t k = std::min(k_, b.logits.size(1));  // k beyond the class count means "any class"
    auto top = std::get<1>(b.logits.topk(k, 1));
    correct_ += top.eq(b.targets.unsqueeze(1)).any(1).sum().item<std::int64_t>();
    total_ += b.targets.size(0);
  }
  double value() const override { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0; }

 private:
  std::int64_t k_;
  std::int64_t correct_ = 0, total_ = 0;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(
        Kind::Metric, "top_k_accuracy", "1.0.0", "share of examples whose class is among the top k",
        {ParamSpec("k", ParamType::Int, "how many top classes count").def(std::int64_t{5}).range(1, 1 << 20)});
    d.presets = {{"top5_accuracy", "top-5 accuracy", {{"k", std::int64_t{5}}}},
                 {"top3_accuracy", "top-3 accuracy", {{"k", std::int64_t{3}}}}};
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap& p, const BuildContext&) {
  return std::make_unique<TopKAccuracy>(p.get_int("k"));
}

}  // namespace trex_top_k

TREX_PLUGIN(trex_top_k::descriptor, trex_top_k::create)
