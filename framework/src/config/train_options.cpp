#include "trex/config/train_options.h"

#include <algorithm>

namespace trex {
namespace {

using T = ParamType;

Schema top_schema() {
  return {
      ParamSpec("epochs", T::Int, "training epochs").def(std::int64_t{10}).range(1, 1e6),
      ParamSpec("batch_size", T::Int, "the global batch size").def(std::int64_t{128}).range(1, 1 << 20),
      ParamSpec("grad_clip", T::Float, "max global gradient norm; 0 turns clipping off").def(0.0).at_least(0),
      ParamSpec("accumulate", T::Int, "batches per optimizer step").def(std::int64_t{1}).range(1, 4096),
      ParamSpec("unfreeze_at_epoch", T::Int, "1-based epoch at which a frozen backbone starts training (fine-tuning); 0 = never")
          .def(std::int64_t{0}).range(0, 1e6),
      ParamSpec("threads", T::Int, "intra-op threads; 0 = all cores").def(std::int64_t{0}).range(0, 1024),
      ParamSpec("workers", T::Int, "data loader threads").def(std::int64_t{2}).range(0, 256),
      ParamSpec("prefetch", T::Int, "batches decoded ahead of the model").def(std::int64_t{4}).range(1, 1024),
      ParamSpec("device", T::String, "where to train").def(std::string("cpu")).one_of({"cpu", "cuda"}),
      ParamSpec("channels_last", T::Bool, "NHWC memory format for the model and batches").def(false),
      ParamSpec("bf16", T::Bool, "CPU autocast to bfloat16 in forward").def(false),
      ParamSpec("feature_cache", T::String,
                "frozen-backbone features computed once: auto (memory; on disk in sweeps, shared by trials), memory, "
                "disk, or off; memory and disk fail when the features can change")
          .def(std::string("auto")).one_of({"auto", "memory", "disk", "off"}),
      ParamSpec("feature_cache_max_gb", T::Float, "the most feature_cache: auto holds (train + val + test features, GiB)")
          .def(4.0).at_least(0),
      ParamSpec("bucket_mb", T::Float, "data-parallel gradient bucket size in MB (the first is at most 1 MB, as in DDP)")
          .def(25.0).range(0.001, 1e4),
      ParamSpec("sync_bn", T::Bool, "data-parallel: BatchNorm statistics over every rank's examples (SyncBatchNorm); "
                                    "false: per replica, as DDP").def(false),
  };
}

Schema optimizer_schema(const std::string& type) {
  Schema s{
      ParamSpec("type", T::String, "optimizer").def(std::string("adam"))
          .one_of({"sgd", "adam", "adamw", "adadelta", "rmsprop"}),
      ParamSpec("lr", T::Float, "learning rate").def(1e-3).range(0, 1e3),
      ParamSpec("weight_decay", T::Float, "L2 penalty (decoupled for adamw)").def(0.0).at_least(0),
  };
  if (type == "sgd") {
    s.push_back(ParamSpec("momentum", T::Float, "momentum factor").def(0.0).range(0, 1));
    s.push_back(ParamSpec("nesterov", T::Bool, "Nesterov momentum").def(false));
  } else if (type == "adam" || type == "adamw") {
    s.push_back(ParamSpec("betas", T::FloatList, "moment decay rates").def(std::vector<double>{0.9, 0.999}).range(0, 1));
    s.push_back(ParamSpec("eps", T::Float, "denominator epsilon").def(1e-8).at_least(0));
  } else if (type == "adadelta") {
    s.push_back(ParamSpec("rho", T::Float, "running average decay").def(0.9).range(0, 1));
    s.push_back(ParamSpec("eps", T::Float, "denominator epsilon").def(1e-6).at_least(0));
  } else if (type == "rmsprop") {
    s.push_back(ParamSpec("alpha", T::Float, "smoothing constant").def(0.99).range(0, 1));
    s.push_back(ParamSpec("eps", T::Float, "denominator epsilon").def(1e-8).at_least(0));
    s.push_back(ParamSpec("momentum", T::Float, "momentum factor").def(0.0).range(0, 1));
  }
  return s;
}

Schema schedule_schema(const std::string& type) {
  Schema s{
      ParamSpec("type", T::String, "learning-rate schedule").def(std::string("constant"))
          .one_of({"constant", "step", "multistep", "cosine", "one_cycle"}),
      ParamSpec("warmup_epochs", T::Int, "linear warm-up epochs").def(std::int64_t{0}).range(0, 1e6),
  };
  if (type == "step") {
    s.push_back(ParamSpec("step_size", T::Int, "epochs between decays").def(std::int64_t{10}).range(1, 1e6));
    s.push_back(ParamSpec("gamma", T::Float, "decay factor").def(0.1).range(0, 1));
  } else if (type == "multistep") {
    s.push_back(ParamSpec("milestones", T::IntList, "epochs at which lr *= gamma").def(std::vector<std::int64_t>{}).at_least(0));
    s.push_back(ParamSpec("gamma", T::Float, "decay factor").def(0.1).range(0, 1));
  } else if (type == "cosine") {
    s.push_back(ParamSpec("min_lr", T::Float, "lr at the end").def(0.0).at_least(0));
  } else if (type == "one_cycle") {
    s.push_back(ParamSpec("pct_start", T::Float, "share of steps spent rising").def(0.3).range(0, 1));
    s.push_back(ParamSpec("div_factor", T::Float, "start lr = lr / div_factor").def(25.0).at_least(1));
    s.push_back(ParamSpec("final_div_factor", T::Float, "end lr = start lr / this").def(1e4).at_least(1));
  }
  return s;
}

Schema loss_schema() {
  return {
      ParamSpec("label_smoothing", T::Float, "label smoothing").def(0.0).range(0, 0.999),
      ParamSpec("class_weights", T::String, "none, balanced (inverse class frequency) or a list of weights")
          .def(std::string("none")).one_of({"none", "balanced"}),
  };
}

Schema early_stopping_schema() {
  return {
      ParamSpec("monitor", T::String, "canonical metric key, e.g. val_loss").def(std::string("val_loss")),
      ParamSpec("mode", T::String, "auto takes the metric's direction").def(std::string("auto")).one_of({"auto", "min", "max"}),
      ParamSpec("patience", T::Int, "epochs without improvement before stopping").def(std::int64_t{3}).range(0, 1e6),
      ParamSpec("min_delta", T::Float, "smallest change that counts as improvement").def(0.0).at_least(0),
      ParamSpec("restore_best", T::Bool, "reload the best weights when stopping").def(true),
  };
}

Schema mixup_schema() {
  return {
      ParamSpec("mixup_alpha", T::Float, "mixup: lambda ~ Beta(alpha, alpha); 0 = off").def(0.0).at_least(0),
      ParamSpec("cutmix_alpha", T::Float, "cutmix: lambda ~ Beta(alpha, alpha); 0 = off").def(0.0).at_least(0),
      ParamSpec("prob", T::Float, "share of batches that are mixed").def(1.0).range(0, 1),
      ParamSpec("switch_prob", T::Float, "with both on: share of mixed batches that use cutmix").def(0.5).range(0, 1),
  };
}

Schema checkpoint_schema() {
  return {
      ParamSpec("monitor", T::String, "canonical metric key that picks the best checkpoint").def(std::string("val_accuracy")),
      ParamSpec("mode", T::String, "auto takes the metric's direction").def(std::string("auto")).one_of({"auto", "min", "max"}),
      ParamSpec("keep", T::String, "which checkpoints to keep").def(std::string("both")).one_of({"best", "last", "both", "none"}),
  };
}

/// Validates a sub-map and writes the filled node, in schema order.
ParamMap section(const Node* node, const Schema& schema, const std::string& path, Diagnostics& diag,
                 Node& out, const Origin& where, const std::vector<std::string>& nested = {}) {
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

}  // namespace

TrainOptions resolve_train(const Node* node, const std::string& path, Diagnostics& diag, Node& resolved) {
  TrainOptions o;
  const Origin where = node ? node->origin() : Origin{};
  Node body = node && !node->is_null() ? *node : Node::map(where);
  if (!body.is_map()) {
    diag.add(body.origin(), path, "expected a map of training options");
    body = Node::map(where);
  }
  const std::vector<std::string> nested{"optimizer", "schedule", "loss", "early_stopping", "checkpoint", "mixup"};
  const Schema top = top_schema();
  Node top_out;
  ParamMap p = section(&body, top, path, diag, top_out, where, nested);
  resolved = top_out;

  if (p.has("epochs")) o.epochs = p.get_int("epochs");
  if (p.has("batch_size")) o.batch_size = p.get_int("batch_size");
  if (p.has("grad_clip")) o.grad_clip = p.get_float("grad_clip");
  if (p.has("accumulate")) o.accumulate = p.get_int("accumulate");
  if (p.has("unfreeze_at_epoch")) o.unfreeze_at_epoch = p.get_int("unfreeze_at_epoch");
  if (p.has("threads")) o.threads = p.get_int("threads");
  if (p.has("workers")) o.workers = p.get_int("workers");
  if (p.has("prefetch")) o.prefetch = p.get_int("prefetch");
  if (p.has("device")) o.device = p.get_string("device");
  if (p.has("channels_last")) o.channels_last = p.get_bool("channels_last");
  if (p.has("bf16")) o.bf16 = p.get_bool("bf16");
  if (p.has("feature_cache")) o.feature_cache = p.get_string("feature_cache");
  if (p.has("bucket_mb")) o.bucket_mb = p.get_float("bucket_mb");
  if (p.has("feature_cache_max_gb")) o.feature_cache_max_gb = p.get_float("feature_cache_max_gb");
  if (p.has("sync_bn")) o.sync_bn = p.get_bool("sync_bn");

  Node out;
  {
    const Node* n = body.find("optimizer");
    // param_groups is a nested map of lr multipliers: validated on its own.
    Node opt_node = n && n->is_map() ? *n : Node::map(where);
    Node groups = opt_node.find("param_groups") ? *opt_node.find("param_groups") : Node::map(where);
    opt_node.erase("param_groups");
    ParamMap q = section(n && n->is_map() ? &opt_node : n, optimizer_schema(type_of_section(n, "adam")),
                         join_path(path, "optimizer"), diag, out, where);
    const Schema group_schema{
        ParamSpec("backbone", T::Float, "lr multiplier of a composite model's backbone").def(1.0).range(0, 1e3),
        ParamSpec("head", T::Float, "lr multiplier of a composite model's head").def(1.0).range(0, 1e3)};
    Node groups_out;
    ParamMap g = section(&groups, group_schema, join_path(path, "optimizer.param_groups"), diag, groups_out, where);
    out.set("param_groups", groups_out);
    if (g.has("backbone")) o.optimizer.backbone_lr_mult = g.get_float("backbone");
    if (g.has("head")) o.optimizer.head_lr_mult = g.get_float("head");
    resolved.set("optimizer", out);
    auto& opt = o.optimizer;
    if (q.has("type")) opt.type = q.get_string("type");
    if (q.has("lr")) opt.lr = q.get_float("lr");
    if (q.has("weight_decay")) opt.weight_decay = q.get_float("weight_decay");
    if (q.has("momentum")) opt.momentum = q.get_float("momentum");
    if (q.has("nesterov")) opt.nesterov = q.get_bool("nesterov");
    if (q.has("betas")) opt.betas = q.get<std::vector<double>>("betas");
    if (q.has("eps")) opt.eps = q.get_float("eps");
    if (q.has("rho")) opt.rho = q.get_float("rho");
    if (q.has("alpha")) opt.alpha = q.get_float("alpha");
    if (opt.betas.size() != 2)
      diag.add(n ? n->origin() : where, join_path(path, "optimizer.betas"), "betas must hold exactly two numbers");
    if (opt.nesterov && opt.momentum <= 0)
      diag.add(n ? n->origin() : where, join_path(path, "optimizer.nesterov"), "nesterov needs momentum > 0");
  }
  {
    const Node* n = body.find("schedule");
    ParamMap q = section(n, schedule_schema(type_of_section(n, "constant")), join_path(path, "schedule"), diag, out, where);
    resolved.set("schedule", out);
    auto& s = o.schedule;
    if (q.has("type")) s.type = q.get_string("type");
    if (q.has("warmup_epochs")) s.warmup_epochs = q.get_int("warmup_epochs");
    if (q.has("step_size")) s.step_size = q.get_int("step_size");
    if (q.has("milestones")) s.milestones = q.get<std::vector<std::int64_t>>("milestones");
    if (q.has("gamma")) s.gamma = q.get_float("gamma");
    if (q.has("min_lr")) s.min_lr = q.get_float("min_lr");
    if (q.has("pct_start")) s.pct_start = q.get_float("pct_start");
    if (q.has("div_factor")) s.div_factor = q.get_float("div_factor");
    if (q.has("final_div_factor")) s.final_div_factor = q.get_float("final_div_factor");
  }
  {
    const Node* n = body.find("loss");
    // class_weights is either a word or a list: take a list out before the schema check.
    Node loss_node = n && n->is_map() ? *n : Node::map(where);
    std::optional<Node> weight_list;
    if (const Node* cw = loss_node.find("class_weights"); cw && cw->is_sequence()) {
      weight_list = *cw;
      loss_node.erase("class_weights");
    }
    ParamMap q = section(n && n->is_map() ? &loss_node : n, loss_schema(), join_path(path, "loss"), diag, out, where);
    o.loss.label_smoothing = q.has("label_smoothing") ? q.get_float("label_smoothing") : 0;
    o.loss.class_weights = q.has("class_weights") ? q.get_string("class_weights") : "none";
    if (weight_list) {
      ParamSpec spec("class_weights", T::FloatList, "");
      spec.at_least(0);
      if (auto v = convert_value(*weight_list, spec, join_path(path, "loss.class_weights"), diag)) {
        o.loss.class_weights = "list";
        o.loss.weights = std::get<std::vector<double>>(*v);
      }
      out.set("class_weights", *weight_list);
    }
    resolved.set("loss", out);
  }
  {
    const Node* n = body.find("early_stopping");
    if (n && !n->is_null() && !(n->as_bool() && !*n->as_bool())) {
      const Node empty = Node::map(n->origin());
      ParamMap q = section(n->as_bool() ? &empty : n, early_stopping_schema(), join_path(path, "early_stopping"), diag, out, where);
      auto& e = o.early_stopping;
      e.enabled = true;
      if (q.has("monitor")) e.monitor = q.get_string("monitor");
      if (q.has("mode")) e.mode = q.get_string("mode");
      if (q.has("patience")) e.patience = q.get_int("patience");
      if (q.has("min_delta")) e.min_delta = q.get_float("min_delta");
      if (q.has("restore_best")) e.restore_best = q.get_bool("restore_best");
      resolved.set("early_stopping", out);
    } else {
      resolved.set("early_stopping", Node::scalar("false", false, where));
    }
  }
  {
    const Node* n = body.find("checkpoint");
    ParamMap q = section(n, checkpoint_schema(), join_path(path, "checkpoint"), diag, out, where);
    resolved.set("checkpoint", out);
    if (q.has("monitor")) o.checkpoint.monitor = q.get_string("monitor");
    if (q.has("mode")) o.checkpoint.mode = q.get_string("mode");
    if (q.has("keep")) o.checkpoint.keep = q.get_string("keep");
  }
  {
    const Node* n = body.find("mixup");
    ParamMap q = section(n, mixup_schema(), join_path(path, "mixup"), diag, out, where);
    resolved.set("mixup", out);
    auto& m = o.mixup;
    if (q.has("mixup_alpha")) m.mixup_alpha = q.get_float("mixup_alpha");
    if (q.has("cutmix_alpha")) m.cutmix_alpha = q.get_float("cutmix_alpha");
    if (q.has("prob")) m.prob = q.get_float("prob");
    if (q.has("switch_prob")) m.switch_prob = q.get_float("switch_prob");
  }
  return o;
}

}  // namespace trex
