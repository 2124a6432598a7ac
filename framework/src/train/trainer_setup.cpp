// Building a run's parts from its spec and opening (or reopening) its record:
// everything the loop in trainer.cpp needs before its first epoch.
#include <filesystem>
#include <iostream>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "trainer_impl.h"
#include "trex/common/file_checksums.h"
#include "trex/train/provenance.h"

namespace fs = std::filesystem;

namespace trex {

void Trainer::setup() {
  if (t_.batch_size % dp_.world() != 0)
    throw std::runtime_error(
        "train.batch_size " + std::to_string(t_.batch_size) + " does not divide by the " + std::to_string(dp_.world()) +
        " workers (each takes batch_size / world_size); make it a multiple of " + std::to_string(dp_.world()));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(dp_.world()));
  at::set_num_threads(std::max(1, t_.threads > 0 ? static_cast<int>(t_.threads) : static_cast<int>(cores)));
  Phases* phases = options_.phases;
  parts_ = build_experiment(spec_, registry_, &store_, phases);
  if (parts_.backbone_weights)
    parts_.backbone_weights->checksum = remembered_file_checksum(parts_.backbone_weights->path);
  mark_phase(phases, "checksum");
  model_ = parts_.model;
  module_ = parts_.module;
  split_ = dynamic_cast<FeatureSplit*>(model_.get());
  if (t_.device == "cuda" && !torch::cuda::is_available())
    throw std::runtime_error(
        "train.device is cuda, but this LibTorch sees no CUDA device (Debian's libtorch is CPU-only); "
        "set train.device: cpu");
  std::string why;
  precision_ = choose_precision(t_, cpu_flags(), &why, t_.device == "cuda" && cuda_bf16_native());
  if (!options_.quiet && t_.precision == "auto")
    std::cout << "precision: " << precision_.describe() << " (" << why << ")\n";
  if (precision_.device.is_cuda()) module_->to(precision_.device);
  precision_.apply_to(*module_);
  optimization_ = std::make_unique<Optimization>(t_, *module_, spec_.composite.has_value());
  if (t_.ema.enabled) ema_ = std::make_unique<WeightEma>(t_.ema, *module_, t_.unfreeze_at_epoch > 0);
  if (t_.unfreeze_at_epoch > 0 && !spec_.composite)
    throw std::runtime_error("train.unfreeze_at_epoch needs a composite model (model: {backbone: ..., head: ...})");
  batches_ = std::make_unique<Batches>(spec_, parts_, *module_, precision_, dp_, options_.should_stop, options_.quiet);
  batches_->set_phases(phases);
  batches_->choose_cache(!options_.sweep_id.empty(), store_.folder());
  mark_phase(phases, "cache setup");
  dp_.attach(*module_, t_.bucket_mb, t_.sync_bn, options_.dist_timeout);
  loss_ = std::make_unique<Loss>(t_.loss, parts_.plan, parts_.class_names.size(), precision_.device);
  train_metrics_ = MetricSet(spec_, registry_);
  eval_metrics_ = MetricSet(spec_, registry_);
  for (const auto* monitor : {&t_.checkpoint.monitor, &t_.early_stopping.monitor}) {
    if (monitor == &t_.early_stopping.monitor && !t_.early_stopping.enabled) continue;
    if (monitor->rfind("val_", 0) == 0 && parts_.plan.val.empty())
      throw std::runtime_error("'" + *monitor +
                               "' is monitored but there is no validation set; set data.val_fraction > 0 or "
                               "monitor a train_ metric");
  }
}

// Callbacks in the order the loop needs: the epoch is stored before anything
// acts on it; early stopping counts before the checkpoint saves its counters.
void Trainer::open_record() {
  const auto save = [this](const std::string& path, bool with_optimizer) {
    const auto ref = frozen_weights_ref(parts_);
    mark_phase(options_.phases, "epochs");
    const auto ema = ema_ ? std::optional<TensorMap>(ema_->checkpoint_extra()) : std::nullopt;
    save_checkpoint(path, *module_, with_optimizer ? &optimization_->optimizer() : nullptr, state_,
                    ref ? &*ref : nullptr, ema ? &*ema : nullptr);
    mark_phase(options_.phases, "checkpoints");
  };
  if (dp_.writer()) {
    recorder_ = std::make_unique<RunRecorder>(store_, train_metrics_.directions(), options_.quiet);
    callbacks_.add(*recorder_);
  }
  const std::string& stop_on = t_.early_stopping.monitor;
  early_stopping_ = std::make_unique<EarlyStopping>(t_.early_stopping,
                                                    train_metrics_.higher_is_better(stop_on, t_.early_stopping.mode),
                                                    state_, stop_on.rfind("val_", 0) == 0 ? t_.first_validation() : 0);
  callbacks_.add(*early_stopping_);
  const auto resume_dir = [&](const std::string& dir) {
    checkpointer_ = std::make_unique<Checkpointer>(
        t_, train_metrics_.higher_is_better(t_.checkpoint.monitor, t_.checkpoint.mode), dir, state_, save);
  };
  // The optimizer's groups must be those of the checkpoint's time: unfreeze first if it had.
  const auto load_last = [this] {
    // The weights file was just loaded and hashed: a checkpoint that references the same version reuses it.
    const auto frozen = frozen_weights_ref(parts_);
    load_checkpoint(checkpointer_->path("last"), *module_, nullptr, &state_, frozen ? &*frozen : nullptr);
    optimization_->maybe_unfreeze(state_.epoch);
    const auto still = frozen_weights_ref(parts_);
    TensorMap extra;
    load_checkpoint(checkpointer_->path("last"), *module_, &optimization_->optimizer(), &state_,
                    still ? &*still : nullptr, &extra);
    if (ema_) ema_->restore(extra, checkpointer_->path("last"));  // the model held the average: train on the weights
  };
  const bool resume = !options_.resume_id.empty();
  if (!dp_.writer()) {
    // Other ranks write nothing to the store; their checkpoints (the same as
    // rank 0's, step for step) go to a scratch folder, removed at the end.
    run_id_ = "rank-" + std::to_string(dp_.rank());
    run_dir_ = (fs::temp_directory_path() / ("trex-rank" + std::to_string(dp_.rank()) + "-" + std::to_string(getpid())))
                   .string();
    resume_dir(resume ? (fs::path(store_.run_dir(store_.run(options_.resume_id).id, false)) / "checkpoints").string()
                      : (fs::path(run_dir_) / "checkpoints").string());
    const bool continues = resume && !options_.restart && fs::exists(checkpointer_->path("last"));
    if (continues) load_last();
    const std::string stored_best = checkpointer_->path("best");
    resume_dir((fs::path(run_dir_) / "checkpoints").string());
    // Rank 0's best (the same weights as ours, step for step) comes along: a
    // best epoch from before the resume must be the one every rank tests.
    fs::create_directories(fs::path(run_dir_) / "checkpoints");
    if (continues && fs::exists(stored_best))
      fs::copy_file(stored_best, checkpointer_->path("best"), fs::copy_options::overwrite_existing);
  } else if (resume) {
    resume_dir((fs::path(store_.run_dir(store_.run(options_.resume_id).id, false)) / "checkpoints").string());
    const auto drop = [this] {
      fs::remove(checkpointer_->path("last"));
      fs::remove(checkpointer_->path("best"));
    };
    recorder_->resume(options_.resume_id, options_.restart, {checkpointer_->path("last"), load_last, drop}, state_);
  } else {
    const RunRecord r = new_run_record(spec_, parts_, options_);
    auto params = run_params(spec_, parts_, *module_, batches_->cache_used(), dp_.world());
    for (auto& p : machine_params(precision_)) params.push_back(std::move(p));
    recorder_->create(r, params, parts_.backbone_weights);
    resume_dir((fs::path(recorder_->run_dir()) / "checkpoints").string());
  }
  if (recorder_) run_id_ = recorder_->run_id(), run_dir_ = recorder_->run_dir();
  fs::create_directories(fs::path(run_dir_) / "checkpoints");
  callbacks_.add(*checkpointer_);
  epoch_line_ = std::make_unique<EpochLine>(progress_, parts_.plan.train.size());
  callbacks_.add(*epoch_line_);
  pruning_ = std::make_unique<Pruning>(options_.should_prune, run_id_, dp_);
  callbacks_.add(*pruning_);
  if (recorder_ && batches_->cache_used() == "disk")
    batches_->set_note([this](const std::string& kind, const std::string& path, const std::string& note) {
      store_.add_artifact(run_id_, kind, path, note);
    });
  mark_phase(options_.phases, "record");
}

}  // namespace trex
