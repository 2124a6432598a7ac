// Mean training loss over the examples seen (the loss the trainer optimises).
#include "trex/plugin/export.h"
#include "trex/plugin/metric.h"

namespace trex_loss {
using namespace trex;

class Loss : public Metric {
 public:
  void reset() override { sum_ = 0, total_ = 0; }
  void add(const MetricBatch& b) override {
    sum_ += b.loss_sum;
    total_ += b.targets.size(0);
  }
  double value() const override { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }

 private:
  double sum_ = 0;
  std::int64_t total_ = 0;
};

const Descriptor& descriptor() {
  static const Descriptor d = [] {
    Descriptor d = make_descriptor(Kind::Metric, "loss", "1.0.0", "mean loss per example (lower is better)");
    d.higher_is_better = false;
    return d;
  }();
  return d;
}

std::unique_ptr<Plugin> create(const ParamMap&, const BuildContext&) { return std::make_unique<Loss>(); }

}  // namespace trex_loss

TREX_PLUGIN(trex_loss::descriptor, trex_loss::create)
