#pragma once
// The host-side `train:` node: its schema, defaults and typed options.
#include <optional>
#include <algorithm>
#include <string>
#include <vector>

#include "trex/registry/diagnostics.h"
#include "trex/registry/schema.h"

namespace trex {

// The defaults below are the schema's (config/option_table.h): each field is
// written once, here, with a `///` line; train_options.cpp binds it to its key.

struct OptimizerOptions {
  std::string type = "adam";              ///< sgd | adam | adamw | adadelta | rmsprop
  double lr = 1e-3;                       ///< learning rate, 0..1000
  double weight_decay = 0;                ///< L2 penalty (decoupled for adamw), >= 0
  double momentum = 0;                    ///< sgd, rmsprop: momentum factor, 0..1
  bool nesterov = false;                  ///< sgd: Nesterov momentum (needs momentum > 0)
  std::vector<double> betas{0.9, 0.999};  ///< adam, adamw: moment decay rates
  double eps = 1e-8;                      ///< adam, adamw, rmsprop: denominator epsilon
  double adadelta_eps = 1e-6;             ///< adadelta: denominator epsilon (YAML key `eps`, torch's default)
  double rho = 0.9;                       ///< adadelta: running average decay, 0..1
  double alpha = 0.99;                    ///< rmsprop: smoothing constant, 0..1
  double backbone_lr_mult = 1.0;          ///< param_groups.backbone: lr multiplier of a composite's backbone
  double head_lr_mult = 1.0;              ///< param_groups.head: lr multiplier of a composite's head
  double norm_decay_mult = 1.0;           ///< weight decay multiplier of normalisation layers' weights and biases
  double bias_decay_mult = 1.0;           ///< weight decay multiplier of the other layers' biases
};

struct ScheduleOptions {
  std::string type = "constant";         ///< constant | step | multistep | cosine | one_cycle
  std::int64_t warmup_epochs = 0;        ///< linear warm-up from 0 over these epochs
  std::int64_t step_size = 10;           ///< step: epochs between decays
  std::vector<std::int64_t> milestones;  ///< multistep: epochs at which lr *= gamma
  double gamma = 0.1;
  double min_lr = 0;              ///< cosine: the floor
  double pct_start = 0.3;         ///< one_cycle: share of steps spent rising
  double div_factor = 25;         ///< one_cycle: start lr = lr / div_factor
  double final_div_factor = 1e4;  ///< one_cycle: end lr = start lr / final_div_factor
  bool cycle_momentum = false;    ///< one_cycle: momentum (adam: beta1) moves against the lr, as torch's OneCycleLR
  double base_momentum = 0.85;    ///< one_cycle: momentum at the lr's peak
  double max_momentum = 0.95;     ///< one_cycle: momentum at the start and the end
};

struct LossOptions {
  double label_smoothing = 0;
  std::string class_weights = "none";  ///< none | balanced | list (then `weights`)
  std::vector<double> weights;
};

struct EarlyStoppingOptions {
  bool enabled = false;
  std::string monitor = "val_loss";
  std::string mode = "auto";  ///< auto | min | max
  std::int64_t patience = 3;
  double min_delta = 0;
  bool restore_best = true;
};

/// Batch-level mixing (timm's Mixup): mixup blends two images, cutmix pastes
/// a box of one into the other; the loss mixes the two labels by the same lambda.
struct MixOptions {
  double mixup_alpha = 0, cutmix_alpha = 0;
  double prob = 1.0, switch_prob = 0.5;
  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

/// Weight EMA (timm's ModelEma): after every optimizer step the average moves
/// toward the weights; validation, the checkpoints and the test use the average
/// (parameters and BatchNorm statistics alike). Absent or false: off.
struct EmaOptions {
  bool enabled = false;
  double decay = 0.999;  ///< the average keeps this share each step
  bool warmup = true;    ///< decay = min(decay, (1 + n) / (10 + n)) after n steps, so early weights fade fast
};

/// Test-time augmentation for validation, test and `trex predict`: the logits
/// averaged over the image and its transformed views. Absent or false: off.
struct TtaOptions {
  bool enabled = false;
  bool flip = true;            ///< add the left-right mirror of every view
  std::int64_t translate = 0;  ///< > 0: add views shifted by this many pixels up-left and down-right (reflect padding)
};

struct CheckpointOptions {
  std::string monitor = "val_accuracy";
  std::string mode = "auto";
  std::string keep = "both";  ///< best | last | both | none
};

struct TrainOptions {
  std::int64_t epochs = 10;
  std::int64_t batch_size = 128;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  LossOptions loss;
  double grad_clip = 0;                ///< max global grad norm; 0 = off
  std::int64_t accumulate = 1;         ///< batches per optimizer step
  std::int64_t unfreeze_at_epoch = 0;  ///< 1-based epoch at which a frozen backbone starts training; 0 = never
  std::int64_t val_begin = 1;          ///< 1-based epoch of the first validation (MMEngine's val_begin)
  std::int64_t val_interval = 1;       ///< validate every this many epochs from val_begin (MMEngine's val_interval)
  EarlyStoppingOptions early_stopping;
  CheckpointOptions checkpoint;
  MixOptions mixup;
  EmaOptions ema;
  TtaOptions tta;
  std::int64_t threads = 0;     ///< intra-op threads; 0 = all cores
  std::string loader = "auto";  ///< auto | inline | threads (loader_threads())
  std::int64_t workers = 2;     ///< loader threads when the loader runs in threads
  std::int64_t prefetch = 4;    ///< batches queued ahead of the model
  std::string device = "cpu";
  bool channels_last = true;
  bool winograd = true;                ///< fp32 3x3 convolutions by Winograd where the CPU has it (model/winograd.h)
  bool bf16 = false;                   ///< CPU autocast to bfloat16 (precision: bf16)
  std::string precision = "auto";      ///< auto | fp32 | bf16 (train/precision.h: choose_precision)
  std::string feature_cache = "auto";  ///< auto | memory | disk | off (feature_cache.h)
  double feature_cache_max_gb = 4;     ///< the most feature_cache: auto holds
  double bucket_mb = 25;               ///< data-parallel gradient bucket size
  bool sync_bn = false;                ///< data-parallel: BatchNorm statistics over all ranks

  /// Whether 0-based `epoch` ends with a validation pass: val_begin, every
  /// val_interval epochs after it, and always the last epoch.
  bool validates(std::int64_t epoch) const;
  /// The loader threads a pass runs: `workers` for loader: threads (auto on a
  /// GPU), 0 for inline (auto on the CPU): the training threads decode each
  /// batch between steps (data/loader.h).
  std::int64_t loader_threads() const;
  /// The 0-based epoch of the first validation.
  std::int64_t first_validation() const { return std::min(val_begin, epochs) - 1; }
};

/// Validates `node` (may be null: all defaults) and returns the options; the
/// filled-in node for the resolved spec goes to `resolved`.
TrainOptions resolve_train(const Node* node, const std::string& path, Diagnostics& diag, Node& resolved);

}  // namespace trex
