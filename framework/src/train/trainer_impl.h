#pragma once
// The trainer's parts, shared by trainer.cpp (the loop) and trainer_setup.cpp
// (building the parts and opening the run record). Private to train/.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "trex/dist/data_parallel.h"
#include "trex/train/batches.h"
#include "trex/train/checkpointer.h"
#include "trex/train/early_stopping.h"
#include "trex/train/losses.h"
#include "trex/train/metric_set.h"
#include "trex/train/optimization.h"
#include "trex/model/precision.h"
#include "trex/train/progress.h"
#include "trex/train/pruning.h"
#include "trex/train/run_recorder.h"
#include "trex/train/test_report.h"
#include "trex/train/trainer.h"
#include "trex/train/weight_ema.h"

namespace trex {

// The training loop, read top to bottom: run() -> train_one_epoch() -> step(),
// and evaluate(). What watches the loop is a callback (train/callback.h).
class Trainer {
 public:
  Trainer(const ResolvedSpec& spec, const Registry& registry, Store& store, const RunOptions& options)
      : spec_(spec), registry_(registry), store_(store), options_(options), t_(spec.train), dp_(options.dist) {}
  RunResult run();

 private:
  void setup();
  void open_record();
  std::map<std::string, double> train_one_epoch(std::int64_t epoch);
  void step(Batch& batch, std::size_t b, std::size_t n, std::int64_t epoch, bool features);
  std::map<std::string, double> evaluate(const char* name, const std::vector<SampleRef>& set, std::uint64_t stream,
                                         std::vector<Prediction>* predictions = nullptr);
  void test(RunResult& result);
  bool stop_requested() const { return dp_.polls_stop() && options_.should_stop && options_.should_stop(); }
  at::Tensor logits_of(const at::Tensor& input, bool features) {
    return precision_.run(input, [&](const at::Tensor& x) {
      return (features ? split_->head_forward(x) : model_->forward(x)).to(at::kFloat);
    });
  }

  const ResolvedSpec& spec_;
  const Registry& registry_;
  Store& store_;
  RunOptions options_;
  const TrainOptions& t_;
  DataParallel dp_;
  Experiment parts_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<torch::nn::Module> module_;
  FeatureSplit* split_ = nullptr;
  Precision precision_;
  std::unique_ptr<Optimization> optimization_;
  std::unique_ptr<WeightEma> ema_;  ///< train.ema; null: off
  std::unique_ptr<Loss> loss_;
  std::unique_ptr<Batches> batches_;
  MetricSet train_metrics_, eval_metrics_;
  TrainerState state_;
  std::string run_id_, run_dir_;
  double lr_ = 0;
  Progress progress_{options_.quiet};
  std::unique_ptr<RunRecorder> recorder_;  ///< rank 0 only
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<EarlyStopping> early_stopping_;
  std::unique_ptr<Pruning> pruning_;
  std::unique_ptr<EpochLine> epoch_line_;
  Callbacks callbacks_;
};

}  // namespace trex
