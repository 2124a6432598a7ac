#include "trex/train/trainer.h"

#include <filesystem>
#include <iostream>

#include <torch/torch.h>
#include <torch/nn/utils/clip_grad.h>

#include "trainer_impl.h"
#include "trex/common/fault.h"
#include "trex/common/rng.h"
#include "trex/model/test_time_augmentation.h"
#include "trex/train/lr_schedule.h"

namespace fs = std::filesystem;

namespace trex {

std::map<std::string, double> Trainer::train_one_epoch(std::int64_t epoch) {
  fault_point("train_epoch", epoch + 1);
  if (const auto unfrozen = optimization_->maybe_unfreeze(epoch); unfrozen && !options_.quiet)
    std::cout << "epoch " << epoch + 1 << ": backbone unfrozen (" << *unfrozen << " tensors)\n";
  module_->train();
  // Dropout and other in-model randomness: one stream per epoch, so resume repeats it.
  torch::manual_seed(
      mix_seed(spec_.seed, static_cast<std::uint64_t>(epoch), 0xd20, static_cast<std::uint64_t>(dp_.rank())));
  Pass pass = batches_->pass("train", parts_.plan.train, parts_.train_pipeline, true, epoch, kTrainStream);
  train_metrics_.reset();
  const std::size_t n = pass.batches();
  std::size_t b = 0;
  const auto start = std::chrono::steady_clock::now();
  dp_.begin_epoch();
  optimization_->optimizer().zero_grad();
  progress_.start_epoch(epoch, t_.epochs, n);
  double waited = 0;  // seconds the model sat idle waiting for data
  for (;; ++b) {
    const auto wait_start = std::chrono::steady_clock::now();
    auto batch = pass.next();
    waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
    if (!batch) break;
    step(*batch, b, n, epoch, pass.features());
  }
  progress_.set_data_wait(waited);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (const std::string line = dp_.epoch_summary(b, seconds); !line.empty() && !options_.quiet)
    std::cout << line << "\n";
  return train_metrics_.values();
}

void Trainer::step(Batch& batch, std::size_t b, std::size_t n, std::int64_t epoch, bool features) {
  lr_ = lr_at(t_.optimizer, t_.schedule, epoch, static_cast<double>(b) / static_cast<double>(n), t_.epochs);
  optimization_->set_lr(lr_);
  if (const auto m = momentum_at(t_.schedule, epoch, static_cast<double>(b) / static_cast<double>(n), t_.epochs))
    optimization_->set_momentum(*m);
  dp_.before_step();
  batch.targets = batch.targets.to(precision_.device);
  at::Tensor per_example, logits;
  if (t_.mixup.enabled()) {
    // One mixing draw per (seed, epoch, batch): a resumed epoch mixes the same way.
    Rng mix_rng(mix_seed(spec_.seed, static_cast<std::uint64_t>(epoch), b, 0x313));
    const MixedBatch m = mix_batch(batch.images, batch.targets, t_.mixup, mix_rng);
    logits = logits_of(m.images, false);
    per_example = loss_->mixed(logits, m);
    if (m.lambda < 0.5) batch.targets = m.targets_b;  // train metrics score the dominant label
  } else {
    logits = logits_of(batch.images, features);
    per_example = loss_->per_example(logits, batch.targets);
  }
  at::Tensor loss = per_example.mean();
  if (at::Tensor reg = model_->regularization(); reg.defined()) loss = loss + reg;
  const double loss_value = loss.item<double>();
  if (!std::isfinite(loss_value))
    throw std::runtime_error("loss became " + std::string(std::isnan(loss_value) ? "NaN" : "Inf") + " at epoch " +
                             std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                             "; lower train.optimizer.lr or set train.grad_clip");
  const bool step_now = (b + 1) % static_cast<std::size_t>(t_.accumulate) == 0 || b + 1 == n;
  // Gradient buckets go out while backward runs; every rank's stop request
  // rides on the first, so all ranks stop at the same step.
  dp_.arm(step_now, options_.should_stop && options_.should_stop());
  (t_.accumulate > 1 ? loss / static_cast<double>(t_.accumulate) : loss).backward();
  if (step_now) {
    if (dp_.finish()) throw Interrupted();
    if (t_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(module_->parameters(), t_.grad_clip);
    optimization_->optimizer().step();
    optimization_->optimizer().zero_grad();
    if (ema_) ema_->update();
  }
  const std::int64_t classes = static_cast<std::int64_t>(parts_.class_names.size());
  train_metrics_.add(
      dp_.gather(logits.detach(), batch.targets, per_example.detach(), classes, t_.batch_size / dp_.world(), nullptr));
  progress_.update(b + 1, static_cast<std::size_t>(batch.targets.size(0)) * static_cast<std::size_t>(dp_.world()),
                   loss_value);
  if (stop_requested()) throw Interrupted();
}

std::map<std::string, double> Trainer::evaluate(const char* name, const std::vector<SampleRef>& set,
                                                std::uint64_t stream, std::vector<Prediction>* predictions) {
  torch::NoGradGuard no_grad;
  module_->eval();
  Pass pass = batches_->pass(name, set, parts_.eval_pipeline, false, 0, stream);
  eval_metrics_.reset();
  const std::int64_t classes = static_cast<std::int64_t>(parts_.class_names.size());
  // Each rank evaluates its part of every global batch; a rank whose part of the last one is empty still joins it.
  const std::size_t global_batches = dp_.eval_batches(set.size(), static_cast<std::size_t>(t_.batch_size));
  for (std::size_t g = 0; g < global_batches; ++g) {
    auto batch = pass.next();
    if (!batch && dp_.polls_stop()) break;
    if (!batch) batch = Batch{at::empty({0, 0}), at::empty({0}, at::kLong), {}};
    batch->targets = batch->targets.to(precision_.device);
    const bool empty = batch->targets.size(0) == 0;
    at::Tensor logits =
        empty             ? at::empty({0, classes})
        : pass.features() ? logits_of(batch->images, true)
                          : tta_logits(t_.tta, batch->images, [&](const at::Tensor& x) { return logits_of(x, false); });
    at::Tensor per_example = empty ? at::empty({0}) : loss_->per_example(logits, batch->targets);
    const MetricBatch all =
        dp_.gather(logits, batch->targets, per_example, classes, t_.batch_size / dp_.world(), &batch->positions);
    eval_metrics_.add(all);
    if (predictions) append_predictions(all, batch->positions, *predictions);
    if (stop_requested()) throw Interrupted();
  }
  return eval_metrics_.values();
}

void Trainer::test(RunResult& result) {
  if (!parts_.plan.test.empty()) {
    const std::string which = checkpointer_->test_weights(fs::exists(checkpointer_->path("best")));
    std::int64_t epoch = state_.epoch;
    EmaScope averaged(which == "best" ? nullptr : ema_.get());  // best.pt holds the average already
    if (which == "best") {
      TrainerState best_state;
      const auto frozen = frozen_weights_ref(parts_);  // what cannot have changed is not read again
      load_checkpoint(checkpointer_->path("best"), *module_, nullptr, &best_state, frozen ? &*frozen : nullptr);
      epoch = best_state.epoch;
    }
    std::vector<Prediction> predictions;
    const auto values = evaluate("test", parts_.plan.test, kTestStream, &predictions);
    if (!recorder_) return;
    record_test(*recorder_, parts_, values, predictions, which, epoch + 1, options_.quiet);
    if (values.count("accuracy")) result.test_accuracy = values.at("accuracy");
  }
  if (recorder_)
    checkpointer_->apply_keep([this](const std::string& which, const std::string& path) {
      recorder_->add_artifact(std::string("checkpoint_") + which, "checkpoints/" + which + ".pt", file_checksum(path));
    });
}

RunResult Trainer::run() {
  setup();  // failures here leave no record: nothing has started
  open_record();
  RunResult result{run_id_, "", "", run_dir_};
  result.dataset = parts_.dataset;
  if (!options_.quiet)
    std::cout << "run " << run_id_ << "  " << spec_.name << "  train " << parts_.plan.train.size() << " / val "
              << parts_.plan.val.size() << " / test " << parts_.plan.test.size() << " images, "
              << parts_.class_names.size() << " classes, " << at::get_num_threads() << " threads\n";
  try {
    callbacks_.run_begin();
    dp_.start();  // every rank starts from rank 0's weights
    if (ema_ && state_.epoch < 0) ema_->start_from_model();
    for (std::int64_t epoch = state_.epoch + 1; epoch < t_.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      const auto train = train_one_epoch(epoch);
      EmaScope averaged(ema_.get());  // validation and the checkpoints see the average, training the weights
      const bool validate = !parts_.plan.val.empty() && t_.validates(epoch);
      const auto val = validate ? evaluate("val", parts_.plan.val, kValStream) : std::map<std::string, double>{};
      EpochLog log = epoch_log(epoch, train, val, lr_,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      log.validated = validate || parts_.plan.val.empty();
      callbacks_.epoch_end(log);
      if (log.stop) {
        if (!options_.quiet) std::cout << log.stop_reason << "\n";
        break;
      }
    }
    mark_phase(options_.phases, "epochs");
    test(result);
    mark_phase(options_.phases, "test");
    result.status = "completed";
  } catch (const Pruned& e) {
    result.status = "pruned", result.error = e.what();
  } catch (const Interrupted& e) {
    result.status = "interrupted", result.error = e.what();
  } catch (const std::exception& e) {
    result.status = "failed", result.error = e.what();
  }
  callbacks_.run_end({result.status, result.error});
  if (!dp_.writer()) fs::remove_all(run_dir_);
  if (!options_.quiet)
    std::cout << "run " << run_id_ << " " << result.status << "; results in " << run_dir_ << " and " << store_.path()
              << " (trex show " << run_id_ << ")\n";
  return result;
}

RunResult run_experiment(const ResolvedSpec& spec, const Registry& registry, Store& store, const RunOptions& options) {
  Trainer trainer(spec, registry, store, options);
  return trainer.run();
}

}  // namespace trex
