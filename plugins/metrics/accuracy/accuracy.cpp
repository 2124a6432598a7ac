// Share of examples whose arg-max logit is the target.
#include "trex/plugin/export.h"
#include "trex/plugin/metric.h"

namespace trex_accuracy {
using namespace trex;

class Accuracy : public Metric {
 public:
  void reset() override { correct_ = total_ = 0; }
  void add(const MetricBatch& b) override {
    correct_ += b.logits.argmax(1).eq(b.targets).sum().item<std::int64_t>();
    total_ += b.targets.size(0);
  }
  double value() const override { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0; }

 private:
  std::int64_t correct_ = 0, total_ = 0;
};

const Descriptor& descriptor() {
  static const Descriptor d =
      make_descriptor(Kind::Metric, "accuracy", "1.0.0", "share of examples classified correctly");
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap&, const BuildContext&) { return std::make_unique<Accuracy>(); }

}  // namespace trex_accuracy

TREX_PLUGIN(trex_accuracy::descriptor, trex_accuracy::create)
