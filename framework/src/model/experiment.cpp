#include "trex/model/experiment.h"

#include <set>

#include <filesystem>

#include <torch/utils.h>

#include "trex/common/rng.h"
#include "trex/model/checkpoint.h"
#include "trex/model/composite.h"
#include "trex/model/feature_split.h"
#include "trex/store/store.h"
#include "trex/model/weights.h"

namespace trex {

Pipeline build_pipeline(const std::vector<AugmentStep>& steps, const Registry& registry) {
  std::vector<PipelineStep> out;
  for (const auto& s : steps)
    out.push_back({registry.create_as<Augmentation>(s.plugin, {}), s.p, s.plugin.type,
                   s.plugin.ref.record->descriptor->deterministic});
  return Pipeline(std::move(out));
}

Experiment build_data(const ResolvedSpec& spec, const Registry& registry) {
  Experiment e;
  e.dataset = registry.create_as<Dataset>(spec.data, {});
  e.class_names = e.dataset->class_names();
  e.plan = plan_splits(*e.dataset, spec.data_options, spec.seed);
  e.train_pipeline = build_pipeline(spec.augment_train, registry);
  e.eval_pipeline = build_pipeline(spec.augment_eval, registry);
  e.data_shape = e.dataset->shape();
  const ImageShape train = e.train_pipeline.output_shape(e.data_shape);
  e.input_shape = e.eval_pipeline.output_shape(e.data_shape);
  if (train.channels != e.input_shape.channels || train.height != e.input_shape.height ||
      train.width != e.input_shape.width)
    throw std::runtime_error("augment.train makes " + std::to_string(train.height) + "x" + std::to_string(train.width) +
                             " images but augment.eval makes " + std::to_string(e.input_shape.height) + "x" +
                             std::to_string(e.input_shape.width) + "; add the same resize/crop to both lists");
  return e;
}

Experiment build_experiment(const ResolvedSpec& spec, const Registry& registry, const Store* store, Phases* phases) {
  Experiment e = build_data(spec, registry);
  mark_phase(phases, "data");
  BuildContext ctx;
  ctx.channels = e.input_shape.channels;
  ctx.height = e.input_shape.height;
  ctx.width = e.input_shape.width;
  ctx.num_classes = static_cast<std::int64_t>(e.class_names.size());
  ctx.seed = spec.seed;
  torch::manual_seed(spec.seed);
  BuildContext model_ctx = ctx;
  if (spec.composite) {
    model_ctx.num_classes = spec.composite->classes;  // the backbone's own head, dropped by the cut
    model_ctx.cut = spec.composite->cut;              // nothing past it is built, initialised or loaded
  }
  e.model = registry.create_as<Model>(spec.model, model_ctx);
  mark_phase(phases, "model");
  const std::string& weights = spec.model.params.get_string("weights");
  torch::nn::Module& target = *e.model->module();
  WeightsRef ref;
  ref.module = "backbone";
  if (weights.rfind("run:", 0) == 0) {
    if (!store) throw std::runtime_error("model.weights: '" + weights + "' needs the store");
    ref.kind = "checkpoint";
    ref.path = resolve_checkpoint(*store, weights.substr(4));
    load_checkpoint(ref.path, target, nullptr, nullptr);
    for (const auto& p : target.named_parameters()) ref.keys.push_back(p.key());
    for (const auto& b : target.named_buffers()) ref.keys.push_back(b.key());
  } else if (!weights.empty()) {
    ref.kind = "state_dict";
    ref.path = weights;
    ref.strict = spec.model.params.get_bool("strict");
    ref.keys = load_state_dict_file(target, weights, ref.strict, e.model->left_out()).loaded;
  }
  if (spec.composite && !ref.path.empty()) {
    ref.path = std::filesystem::absolute(ref.path).lexically_normal().string();
    e.backbone_weights = ref;
  }
  mark_phase(phases, "weights");
  if (spec.composite) {
    // The head's own stream: its initial weights do not depend on how much of the backbone was built.
    torch::manual_seed(mix_seed(spec.seed, 0x4ead));
    e.model = make_composite(e.model, *spec.composite, e.input_shape, ctx.num_classes);
  }
  e.module = std::shared_ptr<torch::nn::Module>(e.model, e.model->module().get());
  mark_phase(phases, "model");
  return e;
}

std::optional<WeightsRef> frozen_weights_ref(const Experiment& parts) {
  auto* split = dynamic_cast<FeatureSplit*>(parts.model.get());
  if (!parts.backbone_weights || !split) return std::nullopt;
  WeightsRef ref = *parts.backbone_weights;
  const auto unchanging = split->unchanging_backbone_tensors();
  const std::set<std::string> keep(unchanging.begin(), unchanging.end());
  std::vector<std::string> keys;
  for (const auto& k : ref.keys)
    if (keep.count(k)) keys.push_back(k);
  if (keys.empty()) return std::nullopt;
  ref.keys = std::move(keys);
  return ref;
}

}  // namespace trex
