#include "trex/config/spec.h"

#include <algorithm>
#include <filesystem>

#include "trex/config/yaml_loader.h"

namespace trex {
namespace {

using T = ParamType;

const std::vector<std::string> kTopKeys{"name", "seed", "data", "augment", "model", "train", "metrics", "sweep"};

std::vector<AugmentStep> resolve_augment_list(const Node* list, const std::string& path, const Registry& registry,
                                              Diagnostics& diag, Node& out) {
  std::vector<AugmentStep> steps;
  out = Node::sequence(list ? list->origin() : Origin{});
  if (!list || list->is_null()) return steps;
  if (!list->is_sequence()) {
    diag.add(list->origin(), path, "expected a list of augmentation nodes");
    return steps;
  }
  for (std::size_t i = 0; i < list->items().size(); ++i) {
    auto r = registry.resolve(Kind::Augmentation, list->items()[i], join_path(path, std::to_string(i)), diag,
                              augmentation_host_keys());
    if (!r) continue;
    out.push_back(r->node);
    steps.push_back({*r, r->params.get_float("p")});
  }
  return steps;
}

}  // namespace

Schema dataset_host_keys() {
  return {
      ParamSpec("limit", T::Int, "images per split, a seeded stratified subsample; 0 = all")
          .def(std::int64_t{0})
          .at_least(0),
      ParamSpec("per_class_limit", T::Int, "images per class and split; 0 = all").def(std::int64_t{0}).at_least(0),
      ParamSpec("val_fraction", T::Float, "share of train held out for validation when the dataset has no val split")
          .def(0.1)
          .range(0, 0.99),
      ParamSpec("val_mode", T::String, "stratified (seeded) or tail (the last fraction, as Keras validation_split)")
          .def(std::string("stratified"))
          .one_of({"stratified", "tail"}),
      ParamSpec("test_fraction", T::Float, "share held out for test when the dataset has no test split")
          .def(0.0)
          .range(0, 0.99),
      ParamSpec("train_per_class", T::Int,
                "labelled training images per class, taken after test and validation are held out; 0 = all")
          .def(std::int64_t{0})
          .at_least(0),
      ParamSpec("split_seed", T::Int, "seed of the split and subsets (-1: the spec's seed), to vary init but not data")
          .def(std::int64_t{-1})
          .at_least(-1),
  };
}

Schema augmentation_host_keys() {
  return {ParamSpec("p", T::Float, "probability of applying this step").def(1.0).range(0, 1)};
}

Schema model_host_keys() {
  return {ParamSpec("weights", T::String,
                    "initial weights: a torchvision-format state dict file, or run:RUN[@best|@last] of the same model; "
                    "empty: random")
              .def(std::string("")),
          ParamSpec("strict", T::Bool, "every weight must fit; false loads what fits and reports the rest").def(true)};
}

Schema metric_host_keys() {
  return {ParamSpec("name", T::String, "name in metric keys (val_<name>); default: the type").def(std::string(""))};
}

namespace {

/// One section of the spec: reads `tree`, fills `spec`, writes the resolved node into `spec.tree`.
struct SectionReader {
  const Node& tree;
  const Registry& registry;
  Diagnostics& diag;
  ResolvedSpec& spec;

  void name(const std::string& file) {
    if (const Node* n = tree.find("name"); n && !n->is_null_scalar()) {
      if (!n->is_scalar())
        diag.add(n->origin(), "name", "expected a string");
      else
        spec.name = n->text();
    } else {
      spec.name = std::filesystem::path(file).stem().string();
    }
    spec.tree.set("name", Node::scalar(spec.name, true, tree.origin()));
  }

  void seed() {
    if (const Node* n = tree.find("seed")) {
      ParamSpec s("seed", T::Int, "");
      s.range(0, 9.2e18);
      if (auto v = convert_value(*n, s, "seed", diag))
        spec.seed = static_cast<std::uint64_t>(std::get<std::int64_t>(*v));
    }
    spec.tree.set("seed", Node::scalar(std::to_string(spec.seed), false, tree.origin()));
  }

  void data() {
    const Node* n = tree.find("data");
    if (!n) return diag.add(tree.origin(), "data", "missing 'data:' (a dataset node such as {type: idx})");
    if (auto r = registry.resolve(Kind::Dataset, *n, "data", diag, dataset_host_keys())) {
      spec.data = *r;
      const ParamMap& p = r->params;
      spec.data_options = {p.get_int("limit"),       p.get_int("per_class_limit"), p.get_float("val_fraction"),
                           p.get_string("val_mode"), p.get_float("test_fraction"), p.get_int("train_per_class"),
                           p.get_int("split_seed")};
      spec.tree.set("data", r->node);
    }
  }

  void augment() {
    Node aug = Node::map(tree.origin());
    const Node* n = tree.find("augment");
    if (n && !n->is_null() && !n->is_map())
      diag.add(n->origin(), "augment", "expected a map with 'train' and 'eval' lists");
    if (n && n->is_map())
      for (const auto& [key, value] : n->entries())
        if (key != "train" && key != "eval")
          diag.add(value.origin(), "augment." + key,
                   "unknown key '" + key + "'" + did_you_mean(key, {"train", "eval"}) +
                       "; augment has train and eval lists");
    Node list_out;
    spec.augment_train =
        resolve_augment_list(n && n->is_map() ? n->find("train") : nullptr, "augment.train", registry, diag, list_out);
    aug.set("train", list_out);
    spec.augment_eval =
        resolve_augment_list(n && n->is_map() ? n->find("eval") : nullptr, "augment.eval", registry, diag, list_out);
    aug.set("eval", list_out);
    spec.tree.set("augment", aug);
  }

  void model() {
    const Node* n = tree.find("model");
    if (!n) return diag.add(tree.origin(), "model", "missing 'model:' (a model node such as {type: seed_cnn})");
    if (n->is_map() && n->find("backbone")) {
      Node resolved;
      if (auto c = resolve_composite(*n, registry, diag, model_host_keys(), resolved)) {
        spec.composite = *c;
        spec.model = c->backbone;
      }
      spec.tree.set("model", resolved);
    } else if (auto r = registry.resolve(Kind::Model, *n, "model", diag, model_host_keys())) {
      spec.model = *r;
      spec.tree.set("model", r->node);
    }
  }

  void train() {
    Node train_out;
    spec.train = resolve_train(tree.find("train"), "train", diag, train_out);
    spec.tree.set("train", train_out);
  }

  // Accuracy and loss unless given; loss is always recorded.
  void metrics() {
    Node list = Node::sequence(tree.origin());
    const Node* n = tree.find("metrics");
    if (n && !n->is_null() && !n->is_sequence())
      diag.add(n->origin(), "metrics", "expected a list of metric nodes or names");
    if (n && n->is_sequence())
      list = *n;
    else
      list.push_back(Node::scalar("accuracy", false, tree.origin()));
    bool has_loss = false;
    for (const auto& item : list.items())
      if ((item.is_scalar() && item.text() == "loss") ||
          (item.is_map() && item.find("type") && item.find("type")->text() == "loss"))
        has_loss = true;
    if (!has_loss) list.push_back(Node::scalar("loss", false, tree.origin()));
    Node metrics_out = Node::sequence(list.origin());
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < list.items().size(); ++i) {
      const std::string path = "metrics." + std::to_string(i);
      auto r = registry.resolve(Kind::Metric, list.items()[i], path, diag, metric_host_keys());
      if (!r) continue;
      std::string name = r->params.get_string("name");
      if (name.empty()) name = r->type;
      if (std::find(seen.begin(), seen.end(), name) != seen.end())
        diag.add(list.items()[i].origin(), path, "metric name '" + name + "' is used twice; give one a 'name:'");
      seen.push_back(name);
      r->node.set("name", Node::scalar(name, true, r->node.origin()));
      spec.metrics.push_back({*r, name});
      metrics_out.push_back(r->node);
    }
    spec.tree.set("metrics", metrics_out);
  }

  // A monitor must name a recorded metric.
  void monitors() {
    std::vector<std::string> keys;
    for (const auto& m : spec.metrics)
      for (const char* split : {"train_", "val_"}) keys.push_back(split + m.name);
    auto check = [&](const std::string& monitor, const std::string& path) {
      if (keys.empty() || std::find(keys.begin(), keys.end(), monitor) != keys.end()) return;
      const Node* t = tree.find("train");
      diag.add(t ? t->origin() : tree.origin(), path,
               "'" + monitor + "' is not a recorded metric key" + did_you_mean(monitor, keys) +
                   "; keys are <split>_<metric>, e.g. val_accuracy");
    };
    check(spec.train.checkpoint.monitor, "train.checkpoint.monitor");
    if (spec.train.early_stopping.enabled) check(spec.train.early_stopping.monitor, "train.early_stopping.monitor");
  }
};

}  // namespace

ResolvedSpec resolve_spec(const Node& tree, const Registry& registry, const std::string& file) {
  Diagnostics diag;
  ResolvedSpec spec;
  spec.file = file;
  if (!tree.is_map()) {
    diag.add(tree.origin(), "", "a spec must be a map of keys (name, data, model, train, ...)");
    diag.throw_if_any();
  }
  for (const auto& [key, value] : tree.entries())
    if (std::find(kTopKeys.begin(), kTopKeys.end(), key) == kTopKeys.end())
      diag.add(value.origin(), key, "unknown top-level key '" + key + "'" + did_you_mean(key, kTopKeys));
  spec.tree = Node::map(tree.origin());
  SectionReader read{tree, registry, diag, spec};
  read.name(file);
  read.seed();
  read.data();
  read.augment();
  read.model();
  read.train();
  read.metrics();
  read.monitors();
  if (const Node* n = tree.find("sweep")) {
    spec.sweep = *n;
    spec.tree.set("sweep", *n);
  }
  diag.throw_if_any();
  return spec;
}

ResolvedSpec load_spec(const std::string& path, const std::vector<std::string>& overrides, const Registry& registry) {
  Node tree = load_with_bases(path);
  for (const auto& o : overrides) apply_override(tree, o);
  return resolve_spec(tree, registry, path);
}

ResolvedSpec load_spec_text(const std::string& yaml, const std::string& label, const Registry& registry) {
  return resolve_spec(parse_yaml(yaml, label), registry, label);
}

std::vector<FlatParam> flatten(const Node& node) {
  std::vector<FlatParam> out;
  struct Walk {
    std::vector<FlatParam>& out;
    void operator()(const Node& n, const std::string& path) {
      if (n.is_map()) {
        for (const auto& [k, v] : n.entries()) (*this)(v, join_path(path, k));
      } else if (n.is_sequence()) {
        for (std::size_t i = 0; i < n.items().size(); ++i) (*this)(n.items()[i], join_path(path, std::to_string(i)));
      } else if (n.is_null_scalar()) {
        out.push_back({path, "", "null"});
      } else if (n.as_bool()) {
        out.push_back({path, n.text(), "bool"});
      } else if (n.as_int()) {
        out.push_back({path, n.text(), "int"});
      } else if (n.as_float()) {
        out.push_back({path, n.text(), "float"});
      } else {
        out.push_back({path, n.text(), "string"});
      }
    }
  };
  Walk{out}(node, "");
  return out;
}

std::vector<FlatParam> ResolvedSpec::flat() const { return flatten(tree); }

}  // namespace trex
