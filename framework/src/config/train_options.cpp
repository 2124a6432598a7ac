#include "trex/config/train_options.h"

#include "trex/config/option_table.h"

#include <algorithm>

namespace trex {
namespace {

using T = ParamType;

const OptionTable<TrainOptions>& top_table() {
  static const OptionTable<TrainOptions> t = [] {
    OptionTable<TrainOptions> t;
    t.field("epochs", &TrainOptions::epochs, "training epochs").range(1, 1e6);
    t.field("batch_size", &TrainOptions::batch_size, "the global batch size").range(1, 1 << 20);
    t.field("grad_clip", &TrainOptions::grad_clip, "max global gradient norm; 0 turns clipping off").at_least(0);
    t.field("accumulate", &TrainOptions::accumulate, "batches per optimizer step").range(1, 4096);
    t.field("unfreeze_at_epoch", &TrainOptions::unfreeze_at_epoch,
            "1-based epoch at which a frozen backbone starts training (fine-tuning); 0 = never")
        .range(0, 1e6);
    t.field("val_begin", &TrainOptions::val_begin,
            "1-based epoch of the first validation pass; the epochs before it train only (the last epoch always "
            "validates)")
        .range(1, 1e6);
    t.field("val_interval", &TrainOptions::val_interval,
            "validate every this many epochs from val_begin, and after the last; the epochs between train only, so "
            "checkpoint, early-stopping and pruning decisions on val_* metrics wait for the next validation")
        .range(1, 1e6);
    t.field("threads", &TrainOptions::threads, "intra-op threads; 0 = all cores").range(0, 1024);
    t.field("loader", &TrainOptions::loader,
            "where batches are decoded: inline (by the training threads between steps, in parallel; nothing competes "
            "with the model for the cores), threads (by `workers` loader threads beside the model, `prefetch` "
            "batches ahead), auto (inline on the CPU, threads with a GPU). Batches are the same either way")
        .one_of({"auto", "inline", "threads"});
    t.field("workers", &TrainOptions::workers, "loader threads under loader: threads (0 = inline)").range(0, 256);
    t.field("prefetch", &TrainOptions::prefetch, "batches decoded ahead of the model").range(1, 1024);
    t.field("device", &TrainOptions::device, "where to train").one_of({"cpu", "cuda"});
    t.field("channels_last", &TrainOptions::channels_last,
            "NHWC memory format for the model and batches; true by default: it trained as fast or faster than NCHW "
            "in fp32 and bf16 for every backbone measured (1.0-2.9x at 224-299 px, MobileNet most)");
    t.field("winograd", &TrainOptions::winograd,
            "train and evaluate fp32 3x3 stride-1 convolutions whose channel counts are multiples of 16 (in "
            "trex::Conv2d layers) by oneDNN's Winograd algorithm on AVX-512 CPUs; rounding differs from the direct "
            "algorithm by about 1e-6 relative; no effect under bf16, on GPUs or on CPUs without AVX-512");
    t.field("bf16", &TrainOptions::bf16, "autocast to bfloat16 in forward (the same as precision: bf16)");
    t.field("precision", &TrainOptions::precision,
            "fp32; bf16 (autocast on train.device); auto: bf16 autocast where the device runs bf16 natively "
            "(a CPU with avx512_bf16 or AMX, a GPU of compute capability 8.0+), fp32 elsewhere")
        .one_of({"auto", "fp32", "bf16"});
    t.field(
         "feature_cache", &TrainOptions::feature_cache,
         "frozen-backbone features computed once: auto (memory; on disk in sweeps, shared by trials), memory, disk, or "
         "off; memory and disk fail when the features can change")
        .one_of({"auto", "memory", "disk", "off"});
    t.field("feature_cache_max_gb", &TrainOptions::feature_cache_max_gb,
            "the most feature_cache: auto holds (train + val + test features, GiB)")
        .at_least(0);
    t.field("bucket_mb", &TrainOptions::bucket_mb,
            "data-parallel gradient bucket size in MB (the first is at most 1 MB, as in DDP)")
        .range(0.001, 1e4);
    t.field(
        "sync_bn", &TrainOptions::sync_bn,
        "data-parallel: BatchNorm statistics over every rank's examples (SyncBatchNorm); false: per replica, as DDP");
    return t;
  }();
  return t;
}

const OptionTable<OptimizerOptions>& optimizer_table() {
  static const OptionTable<OptimizerOptions> t = [] {
    using O = OptimizerOptions;
    OptionTable<O> t;
    t.field("type", &O::type, "optimizer").one_of({"sgd", "adam", "adamw", "adadelta", "rmsprop"});
    t.field("lr", &O::lr, "learning rate").range(0, 1e3);
    t.field("weight_decay", &O::weight_decay, "L2 penalty (decoupled for adamw)").at_least(0);
    t.field("momentum", &O::momentum, "momentum factor").range(0, 1).when({"sgd"});
    t.field("nesterov", &O::nesterov, "Nesterov momentum").when({"sgd"});
    t.field("betas", &O::betas, "moment decay rates").range(0, 1).when({"adam", "adamw"});
    t.field("eps", &O::eps, "denominator epsilon").at_least(0).when({"adam", "adamw"});
    t.field("rho", &O::rho, "running average decay").range(0, 1).when({"adadelta"});
    t.field("eps", &O::adadelta_eps, "denominator epsilon").at_least(0).when({"adadelta"});
    t.field("alpha", &O::alpha, "smoothing constant").range(0, 1).when({"rmsprop"});
    t.field("eps", &O::eps, "denominator epsilon").at_least(0).when({"rmsprop"});
    t.field("momentum", &O::momentum, "momentum factor").range(0, 1).when({"rmsprop"});
    t.field(
         "norm_decay_mult", &O::norm_decay_mult,
         "weight decay multiplier of normalisation layers' parameters (0: no decay on BatchNorm, as timm/MMPretrain)")
        .range(0, 1e3);
    t.field("bias_decay_mult", &O::bias_decay_mult, "weight decay multiplier of the other layers' biases")
        .range(0, 1e3);
    return t;
  }();
  return t;
}

const OptionTable<OptimizerOptions>& param_groups_table() {
  static const OptionTable<OptimizerOptions> t = [] {
    OptionTable<OptimizerOptions> t;
    t.field("backbone", &OptimizerOptions::backbone_lr_mult, "lr multiplier of a composite model's backbone")
        .range(0, 1e3);
    t.field("head", &OptimizerOptions::head_lr_mult, "lr multiplier of a composite model's head").range(0, 1e3);
    return t;
  }();
  return t;
}

const OptionTable<ScheduleOptions>& schedule_table() {
  static const OptionTable<ScheduleOptions> t = [] {
    using S = ScheduleOptions;
    OptionTable<S> t;
    t.field("type", &S::type, "learning-rate schedule")
        .one_of({"constant", "step", "multistep", "cosine", "one_cycle"});
    t.field("warmup_epochs", &S::warmup_epochs, "linear warm-up epochs").range(0, 1e6);
    t.field("step_size", &S::step_size, "epochs between decays").range(1, 1e6).when({"step"});
    t.field("gamma", &S::gamma, "decay factor").range(0, 1).when({"step"});
    t.field("milestones", &S::milestones, "epochs at which lr *= gamma").at_least(0).when({"multistep"});
    t.field("gamma", &S::gamma, "decay factor").range(0, 1).when({"multistep"});
    t.field("min_lr", &S::min_lr, "lr at the end").at_least(0).when({"cosine"});
    t.field("pct_start", &S::pct_start, "share of steps spent rising").range(0, 1).when({"one_cycle"});
    t.field("div_factor", &S::div_factor, "start lr = lr / div_factor").at_least(1).when({"one_cycle"});
    t.field("final_div_factor", &S::final_div_factor, "end lr = start lr / this").at_least(1).when({"one_cycle"});
    // Off by default, unlike torch's OneCycleLR, so one_cycle specs written before it train as they did.
    t.field("cycle_momentum", &S::cycle_momentum, "momentum (adam: beta1) cycles max -> base -> max against the lr")
        .when({"one_cycle"});
    t.field("base_momentum", &S::base_momentum, "momentum at the lr's peak").range(0, 1).when({"one_cycle"});
    t.field("max_momentum", &S::max_momentum, "momentum at the start and the end").range(0, 1).when({"one_cycle"});
    return t;
  }();
  return t;
}

const OptionTable<LossOptions>& loss_table() {
  static const OptionTable<LossOptions> t = [] {
    OptionTable<LossOptions> t;
    t.field("label_smoothing", &LossOptions::label_smoothing, "label smoothing").range(0, 0.999);
    t.field("class_weights", &LossOptions::class_weights,
            "none, balanced (inverse class frequency) or a list of weights")
        .one_of({"none", "balanced"});
    return t;
  }();
  return t;
}

const OptionTable<EarlyStoppingOptions>& early_stopping_table() {
  static const OptionTable<EarlyStoppingOptions> t = [] {
    using E = EarlyStoppingOptions;
    OptionTable<E> t;
    t.field("monitor", &E::monitor, "canonical metric key, e.g. val_loss");
    t.field("mode", &E::mode, "auto takes the metric's direction").one_of({"auto", "min", "max"});
    t.field("patience", &E::patience, "epochs without improvement before stopping").range(0, 1e6);
    t.field("min_delta", &E::min_delta, "smallest change that counts as improvement").at_least(0);
    t.field("restore_best", &E::restore_best, "score the test set with the best weights; false: with the final ones");
    return t;
  }();
  return t;
}

const OptionTable<MixOptions>& mixup_table() {
  static const OptionTable<MixOptions> t = [] {
    OptionTable<MixOptions> t;
    t.field("mixup_alpha", &MixOptions::mixup_alpha, "mixup: lambda ~ Beta(alpha, alpha); 0 = off").at_least(0);
    t.field("cutmix_alpha", &MixOptions::cutmix_alpha, "cutmix: lambda ~ Beta(alpha, alpha); 0 = off").at_least(0);
    t.field("prob", &MixOptions::prob, "share of batches that are mixed").range(0, 1);
    t.field("switch_prob", &MixOptions::switch_prob, "with both on: share of mixed batches that use cutmix")
        .range(0, 1);
    return t;
  }();
  return t;
}

const OptionTable<EmaOptions>& ema_table() {
  static const OptionTable<EmaOptions> t = [] {
    OptionTable<EmaOptions> t;
    t.field("decay", &EmaOptions::decay, "share of the average kept at each step").range(0, 1);
    t.field("warmup", &EmaOptions::warmup, "decay = min(decay, (1 + n) / (10 + n)) after n steps");
    return t;
  }();
  return t;
}

const OptionTable<TtaOptions>& tta_table() {
  static const OptionTable<TtaOptions> t = [] {
    OptionTable<TtaOptions> t;
    t.field("flip", &TtaOptions::flip, "add each view's left-right mirror");
    t.field("translate", &TtaOptions::translate, "pixels of the up-left and down-right shifted views; 0: none")
        .range(0, 64);
    return t;
  }();
  return t;
}

const OptionTable<CheckpointOptions>& checkpoint_table() {
  static const OptionTable<CheckpointOptions> t = [] {
    OptionTable<CheckpointOptions> t;
    t.field("monitor", &CheckpointOptions::monitor, "canonical metric key that picks the best checkpoint");
    t.field("mode", &CheckpointOptions::mode, "auto takes the metric's direction").one_of({"auto", "min", "max"});
    t.field("keep", &CheckpointOptions::keep, "which checkpoints to keep").one_of({"best", "last", "both", "none"});
    return t;
  }();
  return t;
}

/// Validates a sub-map and writes the filled node, in schema order.
ParamMap section(const Node* node, const Schema& schema, const std::string& path, Diagnostics& diag, Node& out,
                 const Origin& where, const std::vector<std::string>& nested = {}) {
  Node given = node && !node->is_null() ? *node : Node::map(where);
  ParamMap p = validate_params(given, schema, path, {}, "'" + path + "'", diag, nested);
  out = Node::map(given.origin());
  for (const auto& spec : schema)
    if (p.has(spec.name)) {
      const Node* g = given.is_map() ? given.find(spec.name) : nullptr;
      out.set(spec.name, g ? *g : Node::from_value(p.values().at(spec.name), given.origin()));
    }
  return p;
}

std::string type_of_section(const Node* node, const std::string& fallback) {
  if (node && node->is_map())
    if (const Node* t = node->find("type"); t && t->is_scalar()) return t->text();
  return fallback;
}

/// A plain section: validated against its table, filled into `into`, written to `resolved` under `key`.
template <typename S>
void read_section(const Node& body, const char* key, const OptionTable<S>& table, const std::string& path,
                  Diagnostics& diag, Node& resolved, const Origin& where, S& into) {
  Node out;
  const ParamMap q = section(body.find(key), table.schema(), join_path(path, key), diag, out, where);
  table.fill(into, q);
  resolved.set(key, out);
}

void read_optimizer(const Node& body, const std::string& path, Diagnostics& diag, Node& resolved, const Origin& where,
                    OptimizerOptions& opt) {
  const Node* n = body.find("optimizer");
  const std::string type = type_of_section(n, opt.type);
  // param_groups is a nested map of lr multipliers: validated on its own.
  Node opt_node = n && n->is_map() ? *n : Node::map(where);
  Node groups = opt_node.find("param_groups") ? *opt_node.find("param_groups") : Node::map(where);
  opt_node.erase("param_groups");
  Node out, groups_out;
  const ParamMap q = section(n && n->is_map() ? &opt_node : n, optimizer_table().schema(type),
                             join_path(path, "optimizer"), diag, out, where);
  const ParamMap g = section(&groups, param_groups_table().schema(), join_path(path, "optimizer.param_groups"), diag,
                             groups_out, where);
  out.set("param_groups", groups_out);
  resolved.set("optimizer", out);
  optimizer_table().fill(opt, q, type);
  param_groups_table().fill(opt, g);
  if (opt.betas.size() != 2)
    diag.add(n ? n->origin() : where, join_path(path, "optimizer.betas"), "betas must hold exactly two numbers");
  if (opt.nesterov && opt.momentum <= 0)
    diag.add(n ? n->origin() : where, join_path(path, "optimizer.nesterov"), "nesterov needs momentum > 0");
}

void read_schedule(const Node& body, const std::string& path, Diagnostics& diag, Node& resolved, const Origin& where,
                   TrainOptions& o) {
  const Node* n = body.find("schedule");
  Node out;
  const std::string type = type_of_section(n, o.schedule.type);
  schedule_table().fill(o.schedule,
                        section(n, schedule_table().schema(type), join_path(path, "schedule"), diag, out, where), type);
  resolved.set("schedule", out);
  if (o.schedule.cycle_momentum && o.optimizer.type == "adadelta")
    diag.add(n ? n->origin() : where, join_path(path, "schedule.cycle_momentum"),
             "adadelta has no momentum to cycle; use sgd, adam, adamw or rmsprop, or set cycle_momentum: false");
}

// class_weights is either a word or a list: a list is taken out before the schema check.
void read_loss(const Node& body, const std::string& path, Diagnostics& diag, Node& resolved, const Origin& where,
               LossOptions& loss) {
  const Node* n = body.find("loss");
  Node loss_node = n && n->is_map() ? *n : Node::map(where);
  std::optional<Node> weight_list;
  if (const Node* cw = loss_node.find("class_weights"); cw && cw->is_sequence()) {
    weight_list = *cw;
    loss_node.erase("class_weights");
  }
  Node out;
  const ParamMap q =
      section(n && n->is_map() ? &loss_node : n, loss_table().schema(), join_path(path, "loss"), diag, out, where);
  loss_table().fill(loss, q);
  if (weight_list) {
    ParamSpec spec("class_weights", T::FloatList, "");
    spec.at_least(0);
    if (auto v = convert_value(*weight_list, spec, join_path(path, "loss.class_weights"), diag)) {
      loss.class_weights = "list";
      loss.weights = std::get<std::vector<double>>(*v);
    }
    out.set("class_weights", *weight_list);
  }
  resolved.set("loss", out);
}

// A section that can be switched: absent, null or false is off; true (its
// defaults) or a map is on. early_stopping, ema, tta.
template <typename S>
void read_switch(const Node& body, const char* key, const OptionTable<S>& table, const std::string& path,
                 Diagnostics& diag, Node& resolved, const Origin& where, S& into) {
  const Node* n = body.find(key);
  if (!n || n->is_null() || (n->as_bool() && !*n->as_bool())) {
    resolved.set(key, Node::scalar("false", false, where));
    return;
  }
  const Node empty = Node::map(n->origin());
  Node out;
  const ParamMap q = section(n->as_bool() ? &empty : n, table.schema(), join_path(path, key), diag, out, where);
  into.enabled = true;
  table.fill(into, q);
  resolved.set(key, out);
}

}  // namespace

TrainOptions resolve_train(const Node* node, const std::string& path, Diagnostics& diag, Node& resolved) {
  TrainOptions o;
  const Origin where = node ? node->origin() : Origin{};
  Node body = node && !node->is_null() ? *node : Node::map(where);
  if (!body.is_map()) {
    diag.add(body.origin(), path, "expected a map of training options");
    body = Node::map(where);
  }
  const std::vector<std::string> nested{"optimizer",  "schedule", "loss", "early_stopping",
                                        "checkpoint", "mixup",    "ema",  "tta"};
  top_table().fill(o, section(&body, top_table().schema(), path, diag, resolved, where, nested));
  read_optimizer(body, path, diag, resolved, where, o.optimizer);
  read_schedule(body, path, diag, resolved, where, o);
  read_loss(body, path, diag, resolved, where, o.loss);
  read_switch(body, "early_stopping", early_stopping_table(), path, diag, resolved, where, o.early_stopping);
  read_switch(body, "ema", ema_table(), path, diag, resolved, where, o.ema);
  read_switch(body, "tta", tta_table(), path, diag, resolved, where, o.tta);
  read_section(body, "checkpoint", checkpoint_table(), path, diag, resolved, where, o.checkpoint);
  read_section(body, "mixup", mixup_table(), path, diag, resolved, where, o.mixup);
  return o;
}

std::int64_t TrainOptions::loader_threads() const {
  // Inline on the CPU: loader threads beside a model that keeps every core
  // busy preempt its threads mid-step, and a parallel step waits for the
  // slowest (frozen ResNet-50 in bf16, 924 JPEGs, 2 cores, img/s, three
  // alternated pairs: 2 loader threads 55.4, 58.4, 58.3; inline 64.6, 68.8,
  // 64.9; the seed CNN and fast.yaml about equal; tools/bench/README.md).
  const bool in_threads = loader == "threads" || (loader == "auto" && device != "cpu");
  return in_threads ? workers : 0;
}

bool TrainOptions::validates(std::int64_t epoch) const {
  const std::int64_t e = epoch + 1;
  return e == epochs || (e >= val_begin && (e - val_begin) % val_interval == 0);
}

}  // namespace trex
