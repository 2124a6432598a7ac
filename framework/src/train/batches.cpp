#include "trex/train/batches.h"

#include <filesystem>
#include <iostream>
#include <sstream>

#include <torch/torch.h>
#include <torch/version.h>

#include "trex/train/callback.h"

namespace fs = std::filesystem;

namespace trex {

Batches::Batches(const ResolvedSpec& spec, const Experiment& parts, torch::nn::Module& module,
                 const Precision& precision, const DataParallel& dp, std::function<bool()> should_stop, bool quiet)
    : spec_(spec),
      t_(spec.train),
      parts_(parts),
      module_(module),
      split_(dynamic_cast<FeatureSplit*>(parts.model.get())),
      precision_(precision),
      dp_(dp),
      should_stop_(std::move(should_stop)),
      quiet_(quiet) {}

void Batches::choose_cache(bool in_sweep, const std::string& store_folder) {
  const std::string mode = t_.feature_cache == "auto" ? (in_sweep ? "disk" : "memory") : t_.feature_cache;
  if (mode == "off" || (!split_ && t_.feature_cache == "auto")) return;
  // A backbone that trains is no candidate (silently, under auto); a frozen
  // one that cannot be cached says why.
  std::string blocker =
      split_ ? split_->cache_blocker() : "the model is not a composite (model: {backbone: ..., head: ...})";
  const bool candidate = blocker.empty();
  if (candidate) {
    if (t_.unfreeze_at_epoch > 0)
      blocker = "train.unfreeze_at_epoch unfreezes the backbone";
    else if (t_.mixup.enabled())
      blocker = "train.mixup mixes images before the backbone";
    else if (std::string step = parts_.train_pipeline.random_step(); !step.empty())
      blocker = "augment.train step '" + step + "' draws random numbers, so the features change every epoch";
  }
  if (!blocker.empty()) {
    if (t_.feature_cache != "auto")
      throw std::runtime_error("train.feature_cache: " + mode + " caches frozen features, but " + blocker +
                               "; set train.feature_cache: auto (caches when it can) or off");
    if (!quiet_ && candidate) std::cout << "feature cache off: " << blocker << "\n";
    return;
  }
  // Features kept whole (a head that starts with flatten) can outgrow memory:
  // auto caches only what fits a budget; memory/disk, asked for, always do.
  if (t_.feature_cache == "auto" && !fits_budget()) return;
  cache_used_ = mode;
  store_folder_ = store_folder;
  cache_train_ = true;
  cache_eval_ = parts_.eval_pipeline.random_step().empty() && !t_.tta.enabled;  // TTA views need images
  cache_ = std::make_unique<FeatureCache>(mode == "disk" ? (fs::path(store_folder) / "feature_cache").string() : "");
}

bool Batches::fits_budget() const {
  torch::NoGradGuard no_grad;
  const bool was_training = module_.is_training();
  module_.eval();
  const auto& in = parts_.input_shape;
  const double per_image =
      static_cast<double>(split_->frozen_features(at::zeros({1, in.channels, in.height, in.width})).numel());
  module_.train(was_training);
  const double images =
      static_cast<double>(parts_.plan.train.size() + parts_.plan.val.size() + parts_.plan.test.size());
  const double gib = per_image * 4 * images / (1 << 30);
  if (gib <= t_.feature_cache_max_gb) return true;
  if (!quiet_)
    std::cout << "feature cache off: the features would take " << gib << " GiB (train.feature_cache_max_gb is "
              << t_.feature_cache_max_gb << "); start the head with a global pooling, raise it, or set "
              << "train.feature_cache: memory or disk\n";
  return false;
}

std::string Batches::key(const char* name, const std::vector<SampleRef>& set, const char* augment) const {
  // Everything the features depend on: weights, backbone, cut, pooling,
  // preprocessing, dataset, the exact samples of the set, numerics.
  std::ostringstream k;
  k << "trex feature cache 1\ntorch " << TORCH_VERSION << "\nweights "
    << (parts_.backbone_weights ? parts_.backbone_weights->checksum
                                : "initialised with seed " + std::to_string(spec_.seed))
    << "\n";
  const Node* model = spec_.tree.find("model");
  k << "backbone\n" << to_yaml(*model->find("backbone")) << "\nhead pooling ";
  const auto& head = spec_.composite->head;
  k << (!head.empty() && head[0].type.find("pool") != std::string::npos ? head[0].type : "none") << "\ndata\n"
    << to_yaml(*spec_.tree.find("data")) << "\naugment." << augment << "\n";
  if (const Node* a = spec_.tree.find("augment"); a && a->find(augment)) k << to_yaml(*a->find(augment));
  std::string samples;
  for (const auto& ref : set) samples += ref.split + ":" + std::to_string(ref.index) + ",";
  k << "\nset " << name << " " << set.size() << " " << text_hash(samples) << "\ninput " << parts_.input_shape.channels
    << "x" << parts_.input_shape.height << "x" << parts_.input_shape.width << " bf16 " << precision_.bf16
    << " channels_last " << precision_.channels_last << "\n";
  return k.str();
}

FeatureSet Batches::compute(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline,
                            std::uint64_t stream) {
  if (!quiet_) std::cout << "computing " << name << " features of the frozen backbone (" << set.size() << " images)\n";
  torch::NoGradGuard no_grad;
  const bool was_training = module_.is_training();
  module_.eval();
  LoaderOptions lo{t_.batch_size, false, t_.loader_threads(), t_.prefetch, spec_.seed, 0, stream, parts_.input_shape};
  BatchLoader loader(*parts_.dataset, set, pipeline, lo);
  std::vector<at::Tensor> features, targets;
  while (auto batch = loader.next()) {
    features.push_back(
        precision_.run(batch->images, [&](const at::Tensor& x) { return split_->frozen_features(x); }).cpu());
    targets.push_back(batch->targets);
    if (should_stop_ && should_stop_()) throw Interrupted();
  }
  module_.train(was_training);
  return FeatureSet{at::cat(features), at::cat(targets)};
}

Pass Batches::pass(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline, bool shuffle,
                   std::int64_t epoch, std::uint64_t stream) {
  Pass pass;
  const auto global = static_cast<std::size_t>(t_.batch_size);
  const std::int64_t local = t_.batch_size / dp_.world();
  const auto shard =
      dp_.world() > 1 ? dp_.shard(BatchLoader::order(set.size(), shuffle, spec_.seed, epoch, stream), global, shuffle)
                      : std::nullopt;
  if (cache_ && (shuffle ? cache_train_ : cache_eval_)) {
    // The key hashes every sample of the set: made once per set, not every epoch.
    auto [known, fresh] = keys_.try_emplace(name);
    if (fresh) known->second = key(name, set, shuffle ? "train" : "eval");
    std::string source;
    PhaseScope timed(phases_, "features");
    const FeatureSet& cached = cache_->get(
        known->second, [&] { return compute(name, set, pipeline, stream); }, &source);
    // A disk cache's file and whether this run made it or reused it.
    if (cache_used_ == "disk" && source != "memory" && note_)
      note_(std::string("feature_cache_") + name, fs::relative(cache_->file_of(known->second), store_folder_).string(),
            source == "disk" ? "reused" : "computed");
    pass.cached = std::make_unique<CachedBatches>(cached, local, shuffle, spec_.seed, epoch, stream, shard);
    return pass;
  }
  LoaderOptions lo{local, shuffle, t_.loader_threads(), t_.prefetch, spec_.seed,
                   epoch, stream,  parts_.input_shape,  shard};
  pass.loader = std::make_unique<BatchLoader>(*parts_.dataset, set, pipeline, lo);
  return pass;
}

}  // namespace trex
