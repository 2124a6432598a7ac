#include <algorithm>

#include "trex/config/composite_spec.h"

namespace trex {
namespace {

using T = ParamType;

Schema layer_schema(const std::string& type) {
  if (type == "dense")
    return {ParamSpec("units", T::Int, "outputs; 0 = the dataset's classes").def(std::int64_t{0}).range(0, 1 << 20),
            ParamSpec("activation", T::String, "after the layer")
                .def(std::string("none"))
                .one_of({"none", "relu", "sigmoid", "tanh", "gelu"})};
  if (type == "dropout") return {ParamSpec("p", T::Float, "drop probability").def(0.5).range(0, 0.99)};
  if (type == "activation")
    return {ParamSpec("activation", T::String, "function")
                .def(std::string("relu"))
                .one_of({"relu", "sigmoid", "tanh", "gelu"})};
  return {};
}

/// A backbone key with two values, e.g. bn: frozen | train: true for the
/// first; recorded in `out` either way (the default when absent or wrong).
bool two_way(const Node& extra, const std::string& key, const std::pair<const char*, const char*>& values,
             bool fallback, Diagnostics& diag, Node& out) {
  bool first = fallback;
  if (const Node* v = extra.find(key)) {
    if (!v->is_scalar() || (v->text() != values.first && v->text() != values.second))
      diag.add(v->origin(), "model.backbone." + key, std::string("expected ") + values.first + " or " + values.second);
    else
      first = v->text() == values.first;
  }
  out.set(key, Node::scalar(first ? values.first : values.second, false, extra.origin()));
  return first;
}

const std::vector<std::string> kLayers{"global_avg_pool", "global_max_pool", "flatten",   "batch_norm",
                                       "dense",           "dropout",         "activation"};

}  // namespace

std::optional<CompositeSpec> resolve_composite(const Node& node, const Registry& registry, Diagnostics& diag,
                                               const Schema& host_keys, Node& resolved) {
  CompositeSpec out;
  const std::size_t before = diag.issues().size();
  resolved = Node::map(node.origin());
  for (const auto& [key, value] : node.entries())
    if (key != "backbone" && key != "head")
      diag.add(value.origin(), "model." + key,
               "unknown key '" + key + "'" + did_you_mean(key, {"backbone", "head"}) +
                   "; a composite model has backbone and head");
  // backbone: a model plugin node plus cut / freeze / bn
  const Node* b = node.find("backbone");
  Node plugin_node = b && b->is_map() ? *b : Node::map(node.origin());
  Node extra = Node::map(plugin_node.origin());
  for (const char* k : {"cut", "freeze", "bn", "classes", "inference_graph"})
    if (const Node* v = plugin_node.find(k)) {
      extra.set(k, *v);
      plugin_node.erase(k);
    }
  auto r = registry.resolve(Kind::Model, plugin_node, "model.backbone", diag, host_keys);
  if (r) out.backbone = *r;
  Node backbone_out = r ? r->node : plugin_node;
  if (const Node* cut = extra.find("cut")) {
    if (!cut->is_scalar() || cut->is_null_scalar())
      diag.add(cut->origin(), "model.backbone.cut", "expected a stage name");
    else
      out.cut = cut->text();
  }
  backbone_out.set("cut", Node::scalar(out.cut, true, plugin_node.origin()));
  if (const Node* f = extra.find("freeze")) {
    if (auto flag = f->as_bool())
      out.freeze_all = *flag;
    else if (f->is_sequence()) {
      for (const auto& item : f->items()) {
        if (!item.is_scalar())
          diag.add(item.origin(), "model.backbone.freeze", "expected module names, e.g. [conv1, layer1]");
        else
          out.freeze.push_back(item.text());
      }
    } else {
      diag.add(f->origin(), "model.backbone.freeze", "expected true, false or a list of module names");
    }
    backbone_out.set("freeze", *f);
  } else {
    backbone_out.set("freeze", Node::scalar("false", false, plugin_node.origin()));
  }
  out.bn_frozen = two_way(extra, "bn", {"frozen", "train"}, out.bn_frozen, diag, backbone_out);
  out.inference_graph = two_way(extra, "inference_graph", {"auto", "off"}, out.inference_graph, diag, backbone_out);
  if (const Node* c = extra.find("classes")) {
    ParamSpec spec("classes", T::Int, "");
    spec.range(1, 1 << 20);
    if (auto v = convert_value(*c, spec, "model.backbone.classes", diag)) out.classes = std::get<std::int64_t>(*v);
  }
  backbone_out.set("classes", Node::scalar(std::to_string(out.classes), false, plugin_node.origin()));
  if (!b)
    diag.add(node.origin(), "model.backbone",
             "missing 'backbone:' (a model node such as {type: resnet18, cut: layer4})");
  resolved.set("backbone", backbone_out);

  // head: a list of layers, bare names or {type: ..., ...}
  Node head_out = Node::sequence(node.origin());
  const Node* h = node.find("head");
  if (!h || !h->is_sequence() || h->items().empty()) {
    diag.add(h ? h->origin() : node.origin(), "model.head",
             "expected a list of head layers, e.g. [global_avg_pool, dense]");
  } else {
    for (std::size_t i = 0; i < h->items().size(); ++i) {
      const std::string path = "model.head." + std::to_string(i);
      Node item = h->items()[i];
      if (item.is_scalar()) {
        Node m = Node::map(item.origin());
        m.set("type", item);
        item = m;
      }
      const Node* type = item.is_map() ? item.find("type") : nullptr;
      if (!type || std::find(kLayers.begin(), kLayers.end(), type->text()) == kLayers.end()) {
        std::string list;
        for (const auto& l : kLayers) list += (list.empty() ? "" : ", ") + l;
        diag.add(item.origin(), path + ".type",
                 "unknown head layer '" + (type ? type->text() : std::string()) + "'" +
                     (type ? did_you_mean(type->text(), kLayers) : std::string()) + "; layers: " + list);
        continue;
      }
      const Schema schema = layer_schema(type->text());
      ParamMap p = validate_params(item, schema, path, {}, "head layer '" + type->text() + "'", diag);
      HeadLayer layer;
      layer.type = type->text();
      if (p.has("units")) layer.units = p.get_int("units");
      if (p.has("activation")) layer.activation = p.get_string("activation");
      if (p.has("p")) layer.p = p.get_float("p");
      out.head.push_back(layer);
      Node filled = Node::map(item.origin());
      filled.set("type", *type);
      for (const auto& s : schema)
        filled.set(s.name, item.find(s.name) ? *item.find(s.name) : Node::from_value(p.values().at(s.name)));
      head_out.push_back(filled);
    }
    if (!out.head.empty() && out.head.back().type != "dense")
      diag.add(h->origin(), "model.head", "the head must end with a dense layer (its units default to the classes)");
  }
  resolved.set("head", head_out);
  if (diag.issues().size() != before) return std::nullopt;
  return out;
}

}  // namespace trex
