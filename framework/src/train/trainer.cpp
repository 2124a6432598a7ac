#include "trex/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <opencv2/core/version.hpp>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "trex/train/adadelta.h"
#include "trex/train/batch_mix.h"
#include "trex/model/checkpoint.h"
#include "trex/model/experiment.h"
#include "trex/model/feature_cache.h"
#include "trex/common/fault.h"
#include "trex/common/folder_lock.h"
#include "trex/model/feature_split.h"
#include "trex/dist/grad_sync.h"
#include "trex/dist/sync_batch_norm.h"
#include "trex/data/loader.h"
#include "trex/train/lr_schedule.h"
#include "trex/train/progress.h"
#include "trex/common/classification_report.h"
#include "trex/plugin/metric.h"
#include "trex/plugin/model.h"

namespace fs = std::filesystem;

namespace trex {
namespace {

constexpr std::uint64_t kTrainStream = 1, kValStream = 2, kTestStream = 3;

std::string git_commit() {
  FILE* p = popen("git rev-parse HEAD 2>/dev/null", "r");
  if (!p) return "";
  char buf[64] = {0};
  std::string out = fgets(buf, sizeof buf, p) ? buf : "";
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// Writes the run's heartbeat from its own store connection while an epoch runs.
class Heartbeat {
 public:
  Heartbeat(const std::string& store_path, std::string run_id) : run_id_(std::move(run_id)) {
    thread_ = std::thread([this, store_path] {
      // Everything inside the try: an exception escaping a thread would abort
      // the run and leave it "running" in the store.
      try {
        Store store(store_path);
        std::unique_lock<std::mutex> lock(mutex_);
        while (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return stop_; })) {
          try {
            store.heartbeat(run_id_);
          } catch (const std::exception&) {
            // A busy store delays a heartbeat; the next one catches up.
          }
        }
      } catch (const std::exception& e) {
        std::cerr << "trex: warning: the heartbeat of run " << run_id_ << " stopped (" << e.what()
                  << "); after " << Store::kStaleSeconds << " s without one, readers take the run for interrupted\n";
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string run_id_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted by a signal; resume with `trex run --resume RUN_ID`") {}
};

struct Pruned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MetricSet {
  std::vector<std::shared_ptr<Metric>> metrics;
  std::vector<std::string> names;
  void reset() {
    for (auto& m : metrics) m->reset();
  }
  void add(const MetricBatch& b) {
    for (auto& m : metrics) m->add(b);
  }
};

/// One pass's batches: images through the loader, or cached features.
struct Pass {
  std::unique_ptr<BatchLoader> loader;
  std::unique_ptr<CachedBatches> cached;
  std::size_t batches() const { return loader ? loader->batches() : cached->batches(); }
  std::optional<Batch> next() { return loader ? loader->next() : cached->next(); }
  bool features() const { return cached != nullptr; }
};

struct Prediction {
  std::size_t position;
  std::int64_t label, predicted;
  double confidence;
};

class Trainer {
 public:
  Trainer(const ResolvedSpec& spec, const Registry& registry, Store& store, const RunOptions& options)
      : spec_(spec), registry_(registry), store_(store), options_(options), t_(spec.train) {}

  RunResult run();

 private:
  void setup();
  void start_record();
  std::map<std::string, double> train_one_epoch(std::int64_t epoch);
  std::map<std::string, double> evaluate(const char* name, const std::vector<SampleRef>& set, std::uint64_t stream,
                                         std::vector<Prediction>* predictions);
  void setup_feature_cache();
  std::string cache_key(const char* name, const std::vector<SampleRef>& set, const char* augment) const;
  /// `shuffle` marks the training pass; each rank gets its shard of the set.
  Pass make_pass(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline, bool shuffle,
                 std::int64_t epoch, std::uint64_t stream, bool cacheable);
  std::optional<WeightsRef> checkpoint_ref() const;
  void save(const std::string& which, bool with_optimizer) {
    const auto ref = checkpoint_ref();
    save_checkpoint(checkpoint_path(which), *module_, with_optimizer ? optimizer_.get() : nullptr, state_, ref ? &*ref : nullptr);
  }
  void test_and_finish(RunResult& result);
  bool improved(double value, double best, bool higher, double min_delta) const {
    return higher ? value > best + min_delta : value < best - min_delta;
  }
  bool higher_is_better(const std::string& key, const std::string& mode) const;
  MetricSet make_metrics() const;
  std::unique_ptr<torch::optim::Optimizer> make_optimizer();
  at::Tensor loss_per_example(const at::Tensor& logits, const at::Tensor& targets) const;
  /// `f` on a batch: on the device, in the memory format, under bf16 autocast
  /// when asked — the same for training, evaluation and feature caching.
  template <typename F>
  at::Tensor forward_with(const at::Tensor& input, F f) {
    at::Tensor x = input.to(device_);
    if (t_.channels_last && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    at::autocast::set_cpu_enabled(t_.bf16);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::Tensor y = f(x);
    at::autocast::set_cpu_enabled(false);
    if (t_.bf16) at::autocast::clear_cache();
    return y;
  }
  /// The model's float32 logits for a batch of images, or of cached features.
  at::Tensor logits_of(const at::Tensor& input, bool features = false) {
    return forward_with(input, [&](const at::Tensor& x) {
      return (features ? split_->head_forward(x) : model_->forward(x)).to(at::kFloat);
    });
  }
  void set_lr(double lr) {
    auto& groups = optimizer_->param_groups();
    for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * group_mults_.at(i));
  }
  void maybe_unfreeze(std::int64_t epoch);
  std::string checkpoint_path(const std::string& which) const {
    return (fs::path(run_dir_) / "checkpoints" / (which + ".pt")).string();
  }

  const ResolvedSpec& spec_;
  const Registry& registry_;
  Store& store_;
  RunOptions options_;
  const TrainOptions& t_;

  Experiment parts_;
  std::shared_ptr<Model> model_;
  std::shared_ptr<torch::nn::Module> module_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  at::Tensor class_weights_;
  MetricSet train_metrics_, eval_metrics_;
  std::map<std::string, bool> directions_;  ///< metric name -> higher is better
  std::string run_id_, run_dir_;
  TrainerState state_;
  double lr_ = 0;
  std::unique_ptr<Progress> progress_;
  torch::Device device_{torch::kCPU};
  std::vector<double> group_mults_;  ///< lr multiplier of each optimizer group
  bool unfrozen_ = false;
  FeatureSplit* split_ = nullptr;        ///< the composite's frozen front, when it has one
  std::unique_ptr<FeatureCache> cache_;  ///< set when frozen features are cached
  std::string cache_used_ = "off";       ///< memory | disk | off
  bool cache_train_ = false, cache_eval_ = false;
  std::map<std::string, std::string> cache_keys_;  ///< set name -> its cache key

  // Data-parallel: rank 0 writes the store; every rank trains its shard.
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Collective> dist_;
  std::unique_ptr<GradientSync> sync_;
  bool has_buffers_ = false;
  std::int64_t other_collectives_ = 0;  ///< metric gathers and buffer broadcasts
  double other_seconds_ = 0;
  bool writer() const { return rank_ == 0; }
  std::int64_t local_batch() const { return t_.batch_size / world_; }
  /// Every rank's rows of a batch, concatenated in rank order: the global batch.
  MetricBatch gather(at::Tensor logits, at::Tensor targets, at::Tensor per_example, std::vector<std::size_t>* positions);
  void load_for_resume(const std::string& path);
  void resume_record();
  std::unique_ptr<FolderLock> lock_;  ///< held by the writer while it writes the run
};

bool Trainer::higher_is_better(const std::string& key, const std::string& mode) const {
  if (mode == "max") return true;
  if (mode == "min") return false;
  const auto underscore = key.find('_');
  const std::string name = underscore == std::string::npos ? key : key.substr(underscore + 1);
  auto it = directions_.find(name);
  return it == directions_.end() ? true : it->second;
}

MetricSet Trainer::make_metrics() const {
  MetricSet set;
  for (const auto& m : spec_.metrics) {
    set.metrics.push_back(registry_.create_as<Metric>(m.plugin, {}));
    set.names.push_back(m.name);
  }
  return set;
}

std::unique_ptr<torch::optim::Optimizer> Trainer::make_optimizer() {
  const auto& o = t_.optimizer;
  // A composite model's head and backbone train at their own lr multipliers.
  std::vector<at::Tensor> head, backbone;
  for (const auto& p : module_->named_parameters())
    if (p.value().requires_grad()) (spec_.composite && p.key().rfind("backbone.", 0) == 0 ? backbone : head).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups{torch::optim::OptimizerParamGroup(head)};
  group_mults_ = {spec_.composite ? o.head_lr_mult : 1.0};
  if (!backbone.empty()) {
    groups.emplace_back(backbone);
    group_mults_.push_back(o.backbone_lr_mult);
  }
  if (o.type == "sgd")
    return std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(o.lr).momentum(o.momentum)
                                                           .nesterov(o.nesterov).weight_decay(o.weight_decay));
  if (o.type == "adam")
    return std::make_unique<torch::optim::Adam>(groups, torch::optim::AdamOptions(o.lr).betas({o.betas[0], o.betas[1]})
                                                            .eps(o.eps).weight_decay(o.weight_decay));
  if (o.type == "adamw")
    return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o.lr).betas({o.betas[0], o.betas[1]})
                                                             .eps(o.eps).weight_decay(o.weight_decay));
  if (o.type == "rmsprop")
    return std::make_unique<torch::optim::RMSprop>(groups, torch::optim::RMSpropOptions(o.lr).alpha(o.alpha).eps(o.eps)
                                                               .momentum(o.momentum).weight_decay(o.weight_decay));
  if (o.type == "adadelta")
    return std::make_unique<Adadelta>(groups, AdadeltaOptions(o.lr).rho(o.rho).eps(o.eps).weight_decay(o.weight_decay));
  throw std::runtime_error("train.optimizer.type: unknown optimizer '" + o.type + "'");
}

void Trainer::maybe_unfreeze(std::int64_t epoch) {
  if (unfrozen_ || t_.unfreeze_at_epoch <= 0 || epoch + 1 < t_.unfreeze_at_epoch) return;
  std::vector<at::Tensor> params;
  for (const auto& p : module_->named_parameters())
    if (p.key().rfind("backbone.", 0) == 0 && !p.value().requires_grad()) {
      p.value().set_requires_grad(true);
      params.push_back(p.value());
    }
  if (!params.empty()) {
    optimizer_->add_param_group(torch::optim::OptimizerParamGroup(params));
    group_mults_.push_back(t_.optimizer.backbone_lr_mult);
  }
  unfrozen_ = true;
  if (!options_.quiet) std::cout << "epoch " << epoch + 1 << ": backbone unfrozen (" << params.size() << " tensors)\n";
}

at::Tensor Trainer::loss_per_example(const at::Tensor& logits, const at::Tensor& targets) const {
  namespace F = torch::nn::functional;
  auto opts = F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(t_.loss.label_smoothing);
  if (class_weights_.defined()) opts.weight(class_weights_);
  return F::cross_entropy(logits, targets, opts);
}

void Trainer::setup() {
  rank_ = options_.dist.rank;
  world_ = options_.dist.world;
  if (world_ > 1 && t_.batch_size % world_ != 0)
    throw std::runtime_error("train.batch_size " + std::to_string(t_.batch_size) + " does not divide by the " + std::to_string(world_) +
                             " workers (each takes batch_size / world_size); make it a multiple of " + std::to_string(world_));
  const int threads = t_.threads > 0 ? static_cast<int>(t_.threads)
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(world_)));
  at::set_num_threads(std::max(1, threads));
  parts_ = build_experiment(spec_, registry_, &store_);
  if (parts_.backbone_weights) parts_.backbone_weights->checksum = file_checksum(parts_.backbone_weights->path);
  model_ = parts_.model;
  module_ = parts_.module;
  if (t_.device == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("train.device is cuda, but this LibTorch sees no CUDA device (Debian's libtorch is CPU-only); "
                               "set train.device: cpu");
    device_ = torch::Device(torch::kCUDA);
    module_->to(device_);
  }
  if (t_.channels_last)
    for (auto& p : module_->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  optimizer_ = make_optimizer();
  if (t_.unfreeze_at_epoch > 0 && !spec_.composite)
    throw std::runtime_error("train.unfreeze_at_epoch needs a composite model (model: {backbone: ..., head: ...})");
  split_ = dynamic_cast<FeatureSplit*>(model_.get());
  setup_feature_cache();
  if (world_ > 1) {
    dist_ = make_gloo_collective(options_.dist, options_.dist_timeout);
    sync_ = std::make_unique<GradientSync>(*dist_, static_cast<std::size_t>(t_.bucket_mb * (1 << 20)));
    has_buffers_ = !module_->buffers().empty();
    if (t_.sync_bn) enable_sync_batch_norm(*module_, *dist_);
  }

  if (t_.loss.class_weights == "balanced") {
    auto counts = parts_.plan.class_counts("train", parts_.class_names.size());
    std::vector<float> w;
    for (auto c : counts)
      w.push_back(c ? static_cast<float>(parts_.plan.train.size()) / static_cast<float>(counts.size() * static_cast<std::size_t>(c)) : 0.f);
    class_weights_ = torch::tensor(w).to(device_);
  } else if (t_.loss.class_weights == "list") {
    if (t_.loss.weights.size() != parts_.class_names.size())
      throw std::runtime_error("train.loss.class_weights has " + std::to_string(t_.loss.weights.size()) +
                               " values but the dataset has " + std::to_string(parts_.class_names.size()) + " classes");
    class_weights_ = torch::tensor(std::vector<float>(t_.loss.weights.begin(), t_.loss.weights.end())).to(device_);
  }

  train_metrics_ = make_metrics();
  eval_metrics_ = make_metrics();
  for (const auto& m : spec_.metrics) directions_[m.name] = m.plugin.ref.record->descriptor->higher_is_better;

  for (const auto* monitor : {&t_.checkpoint.monitor, &t_.early_stopping.monitor}) {
    if (monitor == &t_.early_stopping.monitor && !t_.early_stopping.enabled) continue;
    if (monitor->rfind("val_", 0) == 0 && parts_.plan.val.empty())
      throw std::runtime_error("'" + *monitor + "' is monitored but there is no validation set; set data.val_fraction > 0 or monitor a train_ metric");
  }
}

void Trainer::setup_feature_cache() {
  std::string mode = t_.feature_cache;
  if (mode == "auto") mode = options_.sweep_id.empty() ? "memory" : "disk";
  if (mode == "off" || (!split_ && t_.feature_cache == "auto")) return;
  // A backbone that trains is no candidate (silently, under auto); a frozen
  // one that cannot be cached says why.
  std::string blocker = split_ ? split_->cache_blocker() : "the model is not a composite (model: {backbone: ..., head: ...})";
  const bool candidate = blocker.empty();
  if (candidate) {
    if (t_.unfreeze_at_epoch > 0) blocker = "train.unfreeze_at_epoch unfreezes the backbone";
    else if (t_.mixup.enabled()) blocker = "train.mixup mixes images before the backbone";
    else if (std::string step = parts_.train_pipeline.random_step(); !step.empty())
      blocker = "augment.train step '" + step + "' draws random numbers, so the features change every epoch";
  }
  if (!blocker.empty()) {
    if (t_.feature_cache != "auto")
      throw std::runtime_error("train.feature_cache: " + mode + " caches frozen features, but " + blocker +
                               "; set train.feature_cache: auto (caches when it can) or off");
    if (!options_.quiet && candidate) std::cout << "feature cache off: " << blocker << "\n";
    return;
  }
  if (t_.feature_cache == "auto") {
    // Features kept whole (a head that starts with flatten) can outgrow memory:
    // auto caches only what fits a budget; memory/disk, asked for, always do.
    torch::NoGradGuard no_grad;
    const bool was_training = module_->is_training();
    module_->eval();
    const auto& in = parts_.input_shape;
    const double per_image = static_cast<double>(split_->frozen_features(at::zeros({1, in.channels, in.height, in.width})).numel());
    module_->train(was_training);
    const double images = static_cast<double>(parts_.plan.train.size() + parts_.plan.val.size() + parts_.plan.test.size());
    const double gib = per_image * 4 * images / (1 << 30);
    if (gib > t_.feature_cache_max_gb) {
      if (!options_.quiet)
        std::cout << "feature cache off: the features would take " << gib << " GiB (train.feature_cache_max_gb is "
                  << t_.feature_cache_max_gb << "); start the head with a global pooling, raise it, or set "
                  << "train.feature_cache: memory or disk\n";
      return;
    }
  }
  cache_used_ = mode;
  cache_train_ = true;
  cache_eval_ = parts_.eval_pipeline.random_step().empty();
  cache_ = std::make_unique<FeatureCache>(mode == "disk" ? (fs::path(store_.folder()) / "feature_cache").string() : "");
}

std::string Trainer::cache_key(const char* name, const std::vector<SampleRef>& set, const char* augment) const {
  // Everything the features depend on: weights, backbone, cut, pooling,
  // preprocessing, dataset, the exact samples of the set, numerics.
  std::ostringstream k;
  k << "trex feature cache 1\ntorch " << TORCH_VERSION << "\nweights "
    << (parts_.backbone_weights ? parts_.backbone_weights->checksum : "initialised with seed " + std::to_string(spec_.seed)) << "\n";
  const Node* model = spec_.tree.find("model");
  k << "backbone\n" << to_yaml(*model->find("backbone")) << "\nhead pooling ";
  const auto& head = spec_.composite->head;
  k << (!head.empty() && head[0].type.find("pool") != std::string::npos ? head[0].type : "none") << "\ndata\n"
    << to_yaml(*spec_.tree.find("data")) << "\naugment." << augment << "\n";
  if (const Node* a = spec_.tree.find("augment"); a && a->find(augment)) k << to_yaml(*a->find(augment));
  std::string samples;
  for (const auto& ref : set) samples += ref.split + ":" + std::to_string(ref.index) + ",";
  k << "\nset " << name << " " << set.size() << " " << text_hash(samples) << "\ninput " << parts_.input_shape.channels << "x"
    << parts_.input_shape.height << "x" << parts_.input_shape.width << " bf16 " << t_.bf16 << " channels_last "
    << t_.channels_last << "\n";
  return k.str();
}

Pass Trainer::make_pass(const char* name, const std::vector<SampleRef>& set, const Pipeline& pipeline, bool shuffle,
                        std::int64_t epoch, std::uint64_t stream, bool cacheable) {
  Pass pass;
  std::optional<std::vector<std::size_t>> shard;
  if (world_ > 1)
    shard = shard_order(BatchLoader::order(set.size(), shuffle, spec_.seed, epoch, stream), static_cast<std::size_t>(t_.batch_size),
                        rank_, world_, shuffle);
  if (cache_ && cacheable) {
    const auto compute = [&] {
      if (!options_.quiet) std::cout << "computing " << name << " features of the frozen backbone (" << set.size() << " images)\n";
      torch::NoGradGuard no_grad;
      const bool was_training = module_->is_training();
      module_->eval();
      LoaderOptions lo{t_.batch_size, false, t_.workers, t_.prefetch, spec_.seed, 0, stream, parts_.input_shape};
      BatchLoader loader(*parts_.dataset, set, pipeline, lo);
      std::vector<at::Tensor> features, targets;
      while (auto batch = loader.next()) {
        features.push_back(forward_with(batch->images, [&](const at::Tensor& x) { return split_->frozen_features(x); }).cpu());
        targets.push_back(batch->targets);
        if (options_.should_stop && options_.should_stop()) throw Interrupted();
      }
      module_->train(was_training);
      return FeatureSet{at::cat(features), at::cat(targets)};
    };
    // The key hashes every sample of the set: made once per set, not every epoch.
    auto [known, fresh] = cache_keys_.try_emplace(name);
    if (fresh) known->second = cache_key(name, set, shuffle ? "train" : "eval");
    const std::string& key = known->second;
    std::string source;
    const FeatureSet& cached = cache_->get(key, compute, &source);
    // A disk cache's file and whether this run made it or reused it (the "checksum" column).
    if (cache_used_ == "disk" && source != "memory" && writer())
      store_.add_artifact(run_id_, std::string("feature_cache_") + name,
                          fs::relative(cache_->file_of(key), store_.folder()).string(), source == "disk" ? "reused" : "computed");
    pass.cached = std::make_unique<CachedBatches>(cached, local_batch(), shuffle, spec_.seed, epoch, stream, shard);
    return pass;
  }
  LoaderOptions lo{local_batch(), shuffle, t_.workers, t_.prefetch, spec_.seed, epoch, stream, parts_.input_shape, shard};
  pass.loader = std::make_unique<BatchLoader>(*parts_.dataset, set, pipeline, lo);
  return pass;
}

std::optional<WeightsRef> Trainer::checkpoint_ref() const {
  if (!parts_.backbone_weights || !split_) return std::nullopt;
  WeightsRef ref = *parts_.backbone_weights;
  const auto unchanging = split_->unchanging_backbone_tensors();
  const std::set<std::string> keep(unchanging.begin(), unchanging.end());
  std::vector<std::string> keys;
  for (const auto& k : ref.keys)
    if (keep.count(k)) keys.push_back(k);
  if (keys.empty()) return std::nullopt;
  ref.keys = std::move(keys);
  return ref;
}

MetricBatch Trainer::gather(at::Tensor logits, at::Tensor targets, at::Tensor per_example, std::vector<std::size_t>* positions) {
  // One row per example: logits, loss, target, position, valid — padded to
  // the local batch size, so every rank sends the same shape.
  const std::int64_t classes = static_cast<std::int64_t>(parts_.class_names.size()), n = targets.size(0);
  at::Tensor rows = at::zeros({local_batch(), classes + 4}, at::kDouble);
  if (n > 0) {
    rows.narrow(0, 0, n).narrow(1, 0, classes).copy_(logits.to(at::kDouble).cpu());
    rows.narrow(0, 0, n).select(1, classes).copy_(per_example.to(at::kDouble).cpu());
    rows.narrow(0, 0, n).select(1, classes + 1).copy_(targets.to(at::kDouble).cpu());
    if (positions) {
      auto r = rows.accessor<double, 2>();
      for (std::int64_t i = 0; i < n; ++i) r[i][classes + 2] = static_cast<double>((*positions)[static_cast<std::size_t>(i)]);
    }
    rows.narrow(0, 0, n).select(1, classes + 3).fill_(1.0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  at::Tensor all = dist_->allgather(rows).reshape({-1, classes + 4});
  other_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++other_collectives_;
  all = all.index_select(0, all.select(1, classes + 3).nonzero().flatten());
  MetricBatch out{all.narrow(1, 0, classes).to(at::kFloat).to(device_), all.select(1, classes + 1).to(at::kLong).to(device_),
                  all.select(1, classes).sum().item<double>()};
  if (positions) {
    positions->clear();
    const at::Tensor pos = all.select(1, classes + 2).contiguous();
    const auto p = pos.accessor<double, 1>();
    for (std::int64_t i = 0; i < pos.size(0); ++i) positions->push_back(static_cast<std::size_t>(p[i]));
  }
  return out;
}

void Trainer::load_for_resume(const std::string& path) {
  if (!fs::exists(path)) return;
  // The optimizer's groups must be those of the checkpoint's time: unfreeze first if it had.
  load_checkpoint(path, *module_, nullptr, &state_);
  maybe_unfreeze(state_.epoch);
  load_checkpoint(path, *module_, optimizer_.get(), &state_);
}

// Continues a stored run: one writer at a time, from a checkpoint that is at
// most the one epoch behind the store that a kill can leave (store first,
// checkpoint second), or from scratch when asked with --restart.
void Trainer::resume_record() {
  const RunRecord r = store_.run(options_.resume_id);
  run_id_ = r.id;
  run_dir_ = store_.run_dir(run_id_);
  lock_ = std::make_unique<FolderLock>(run_dir_, "run " + run_id_);
  if (r.status == "completed") throw std::runtime_error("run " + run_id_ + " is already completed; nothing to resume");
  const std::int64_t stored = store_.last_epoch(run_id_);
  if (options_.restart) {
    fs::remove(checkpoint_path("last"));
    fs::remove(checkpoint_path("best"));
    if (!options_.quiet) std::cout << "run " << run_id_ << ": restarting from epoch 1 (" << stored << " stored epochs dropped)\n";
  } else {
    const bool have_last = fs::exists(checkpoint_path("last"));
    if (have_last) load_for_resume(checkpoint_path("last"));
    const std::int64_t saved = state_.epoch + 1;  // epochs the checkpoint holds
    if (stored > saved + 1)
      throw std::runtime_error(
          "run " + run_id_ + " has " + std::to_string(stored) + " stored epochs but " + checkpoint_path("last") +
          (have_last ? " holds only " + std::to_string(saved) : " is missing") +
          " (train.checkpoint.keep: none, or the file was removed); resuming would drop the epochs it lacks. Restore the "
          "checkpoint, or start the run again from epoch 1 with `trex run --resume " + run_id_ + " --restart`");
  }
  // Epochs after the checkpoint are repeated, bit for bit, so their rows go.
  store_.truncate_after(run_id_, state_.epoch + 1, directions_);  // stored epochs are 1-based
  store_.set_status(run_id_, RunStatus::Running);
}

void Trainer::start_record() {
  if (!writer()) {
    // Other ranks write nothing to the store; their checkpoints (the same as
    // rank 0's, step for step) go to a scratch folder, removed at the end.
    run_id_ = "rank-" + std::to_string(rank_);
    run_dir_ = (fs::temp_directory_path() / ("trex-rank" + std::to_string(rank_) + "-" + std::to_string(getpid()))).string();
    if (!options_.resume_id.empty() && !options_.restart) {
      const RunRecord r = store_.run(options_.resume_id);
      load_for_resume((fs::path(store_.run_dir(r.id, false)) / "checkpoints" / "last.pt").string());
    }
    return;
  }
  if (!options_.resume_id.empty()) {
    resume_record();
    return;
  }
  RunRecord r;
  r.id = Store::new_run_id();
  r.name = spec_.name;
  r.experiment = spec_.name;
  r.start_time = now_seconds();
  r.host = host_name();
  r.pid = getpid();
  r.seed = static_cast<std::int64_t>(spec_.seed);
  r.trex_version = "0.1.0";
  r.torch_version = TORCH_VERSION;
  r.opencv_version = CV_VERSION;
  r.git_commit = git_commit();
  r.spec_yaml = spec_.yaml();
  r.spec_hash = text_hash(r.spec_yaml);
  r.class_names = parts_.class_names;
  r.main_metric = t_.checkpoint.monitor;
  r.sweep_id = options_.sweep_id;
  r.trial = options_.trial;
  auto params = spec_.flat();
  std::int64_t total = 0, trainable = 0;
  for (const auto& p : module_->parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  params.push_back({"model.params.total", std::to_string(total), "int"});
  params.push_back({"model.params.trainable", std::to_string(trainable), "int"});
  params.push_back({"data.skipped_images", std::to_string(parts_.dataset->skipped_images()), "int"});
  params.push_back({"train.feature_cache_used", cache_used_, "string"});
  params.push_back({"dist.world_size", std::to_string(world_), "int"});
  params.push_back({"dist.backend", world_ > 1 ? "gloo" : "none", "string"});
  for (const char* set : {"train", "val", "test"}) {
    params.push_back({std::string("data.sizes.") + set, std::to_string(parts_.plan.get(set).size()), "int"});
    auto counts = parts_.plan.class_counts(set, parts_.class_names.size());
    for (std::size_t c = 0; c < counts.size(); ++c)
      params.push_back({std::string("data.class_sizes.") + set + "." + std::to_string(c), std::to_string(counts[c]), "int"});
  }
  store_.create_run(r, params);
  run_id_ = r.id;
  run_dir_ = store_.run_dir(run_id_);
  lock_ = std::make_unique<FolderLock>(run_dir_, "run " + run_id_);
  if (parts_.backbone_weights)
    store_.add_artifact(run_id_, "backbone_weights", parts_.backbone_weights->path, parts_.backbone_weights->checksum);
}

std::map<std::string, double> Trainer::train_one_epoch(std::int64_t epoch) {
  fault_point("train_epoch", epoch + 1);
  maybe_unfreeze(epoch);
  module_->train();
  // Dropout and other in-model randomness: one stream per epoch, so resume repeats it.
  torch::manual_seed(mix_seed(spec_.seed, static_cast<std::uint64_t>(epoch), 0xd20, static_cast<std::uint64_t>(rank_)));
  Pass loader = make_pass("train", parts_.plan.train, parts_.train_pipeline, true, epoch, kTrainStream, cache_train_);
  train_metrics_.reset();
  const std::size_t n = loader.batches();
  std::size_t b = 0;
  const auto epoch_start = std::chrono::steady_clock::now();
  const std::int64_t grad_ops0 = sync_ ? sync_->collectives() : 0, other_ops0 = other_collectives_;
  const double grad_s0 = sync_ ? sync_->exposed_seconds() : 0, other_s0 = other_seconds_;
  optimizer_->zero_grad();
  progress_->start_epoch(epoch, t_.epochs, n);
  double waited = 0;  // seconds the model sat idle waiting for data
  for (;;) {
    const auto wait_start = std::chrono::steady_clock::now();
    auto batch = loader.next();
    waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
    if (!batch) break;
    lr_ = lr_at(t_.optimizer, t_.schedule, epoch, static_cast<double>(b) / static_cast<double>(n), t_.epochs);
    set_lr(lr_);
    if (dist_ && has_buffers_) {  // DDP's broadcast_buffers
      const auto t0 = std::chrono::steady_clock::now();
      broadcast_state(*dist_, *module_, true);
      other_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++other_collectives_;
    }
    batch->targets = batch->targets.to(device_);
    at::Tensor per_example, logits;
    if (t_.mixup.enabled()) {
      // One mixing draw per (seed, epoch, batch): a resumed epoch mixes the same way.
      Rng mix_rng(mix_seed(spec_.seed, static_cast<std::uint64_t>(epoch), b, 0x313));
      const MixedBatch m = mix_batch(batch->images, batch->targets, t_.mixup, mix_rng);
      logits = logits_of(m.images);
      per_example = m.lambda >= 1.0 ? loss_per_example(logits, m.targets_a)
                                    : loss_per_example(logits, m.targets_a) * m.lambda +
                                          loss_per_example(logits, m.targets_b) * (1 - m.lambda);
      if (m.lambda < 0.5) batch->targets = m.targets_b;  // train metrics score the dominant label
    } else {
      logits = logits_of(batch->images, loader.features());
      per_example = loss_per_example(logits, batch->targets);
    }
    at::Tensor loss = per_example.mean();
    if (at::Tensor reg = model_->regularization(); reg.defined()) loss = loss + reg;
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value))
      throw std::runtime_error("loss became " + std::string(std::isnan(loss_value) ? "NaN" : "Inf") + " at epoch " +
                               std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                               "; lower train.optimizer.lr or set train.grad_clip");
    const bool step_now = (b + 1) % static_cast<std::size_t>(t_.accumulate) == 0 || b + 1 == n;
    if (sync_) {
      // Buckets go out while backward runs; every rank's stop request rides
      // on the first, so all ranks stop at the same step.
      std::vector<at::Tensor> trainable;
      for (const auto& p : module_->parameters())
        if (p.requires_grad()) trainable.push_back(p);
      sync_->arm(trainable, step_now, options_.should_stop && options_.should_stop());
    }
    (t_.accumulate > 1 ? loss / static_cast<double>(t_.accumulate) : loss).backward();
    if (step_now) {
      if (sync_ && sync_->finish()) throw Interrupted();
      if (t_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(module_->parameters(), t_.grad_clip);
      optimizer_->step();
      optimizer_->zero_grad();
    }
    if (dist_) train_metrics_.add(gather(logits.detach(), batch->targets, per_example.detach(), nullptr));
    else train_metrics_.add({logits.detach(), batch->targets, per_example.sum().item<double>()});
    ++b;
    progress_->update(b, static_cast<std::size_t>(batch->targets.size(0)) * static_cast<std::size_t>(world_), loss_value);
    if (!dist_ && options_.should_stop && options_.should_stop()) throw Interrupted();
  }
  progress_->set_data_wait(waited);
  if (sync_ && !options_.quiet) {
    // Gradient buckets overlap backward; what finish() still waited for is
    // exposed (and includes waiting for the slower rank). Metric gathers and
    // buffer broadcasts are synchronous.
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    const double grad_s = sync_->exposed_seconds() - grad_s0, other_s = other_seconds_ - other_s0;
    const double steps = static_cast<double>(std::max<std::size_t>(b, 1));
    std::printf("data-parallel: %d ranks, %zu steps, %.2f collectives/step (%.2f gradient buckets, %.2f metric gathers and "
                "buffer broadcasts), %.3f s of %.3f s training waiting on communication (%.1f%%; gradients, after backward, %.3f s)\n",
                world_, b, static_cast<double>(sync_->collectives() - grad_ops0 + other_collectives_ - other_ops0) / steps,
                static_cast<double>(sync_->collectives() - grad_ops0) / steps,
                static_cast<double>(other_collectives_ - other_ops0) / steps, grad_s + other_s, train_s,
                100.0 * (grad_s + other_s) / train_s, grad_s);
  }
  std::map<std::string, double> out;
  for (std::size_t i = 0; i < train_metrics_.metrics.size(); ++i) out[train_metrics_.names[i]] = train_metrics_.metrics[i]->value();
  return out;
}

std::map<std::string, double> Trainer::evaluate(const char* name, const std::vector<SampleRef>& set, std::uint64_t stream,
                                                std::vector<Prediction>* predictions) {
  torch::NoGradGuard no_grad;
  module_->eval();
  Pass loader = make_pass(name, set, parts_.eval_pipeline, false, 0, stream, cache_eval_);
  eval_metrics_.reset();
  // Each rank evaluates its part of every global batch; a rank whose part of the last one is empty still joins it.
  const std::size_t global_batches = (set.size() + static_cast<std::size_t>(t_.batch_size) - 1) / static_cast<std::size_t>(t_.batch_size);
  for (std::size_t g = 0; g < (dist_ ? global_batches : SIZE_MAX); ++g) {
    auto batch = loader.next();
    if (!batch && !dist_) break;
    if (!batch) {
      batch = Batch{};
      batch->images = at::empty({0, 0});
      batch->targets = at::empty({0}, at::kLong);
    }
    batch->targets = batch->targets.to(device_);
    at::Tensor logits = batch->targets.size(0) ? logits_of(batch->images, loader.features())
                                               : at::empty({0, static_cast<std::int64_t>(parts_.class_names.size())});
    at::Tensor per_example = batch->targets.size(0) ? loss_per_example(logits, batch->targets) : at::empty({0});
    if (dist_) {
      const MetricBatch all = gather(logits, batch->targets, per_example, &batch->positions);
      logits = all.logits;
      batch->targets = all.targets;
      eval_metrics_.add(all);
    } else {
      eval_metrics_.add({logits, batch->targets, per_example.sum().item<double>()});
    }
    if (predictions) {
      auto [conf, pred] = logits.softmax(1).max(1);
      conf = conf.cpu();
      pred = pred.cpu();
      batch->targets = batch->targets.cpu();
      auto c = conf.accessor<float, 1>();
      auto p = pred.accessor<std::int64_t, 1>();
      auto l = batch->targets.accessor<std::int64_t, 1>();
      for (std::int64_t i = 0; i < pred.size(0); ++i)
        predictions->push_back({batch->positions[static_cast<std::size_t>(i)], l[i], p[i], c[i]});
    }
    if (!dist_ && options_.should_stop && options_.should_stop()) throw Interrupted();
  }
  std::map<std::string, double> out;
  for (std::size_t i = 0; i < eval_metrics_.metrics.size(); ++i) out[eval_metrics_.names[i]] = eval_metrics_.metrics[i]->value();
  return out;
}

void Trainer::test_and_finish(RunResult& result) {
  if (!parts_.plan.test.empty()) {
    std::string which = "last";
    std::int64_t epoch = state_.epoch;
    if (fs::exists(checkpoint_path("best"))) {
      TrainerState best_state;
      load_checkpoint(checkpoint_path("best"), *module_, nullptr, &best_state);
      which = "best";
      epoch = best_state.epoch;
    }
    std::vector<Prediction> predictions;
    auto values = evaluate("test", parts_.plan.test, kTestStream, &predictions);
    if (!writer()) return;
    std::vector<MetricRow> rows;
    for (const auto& [name, v] : values) rows.push_back({epoch + 1, "test", name, v, 0});
    store_.record_epoch(run_id_, epoch + 1, rows, directions_);
    if (values.count("accuracy")) result.test_accuracy = values["accuracy"];
    const fs::path csv = fs::path(run_dir_) / "test_predictions.csv";
    {
      std::ofstream out(csv);
      out << "index,split,label,predicted,confidence\n";
      for (const auto& p : predictions) {
        const SampleRef& ref = parts_.plan.test[p.position];
        out << ref.index << "," << ref.split << "," << p.label << "," << p.predicted << "," << p.confidence << "\n";
      }
    }
    store_.add_artifact(run_id_, "test_predictions", "runs/" + run_id_ + "/test_predictions.csv", file_checksum(csv.string()));
    store_.add_artifact(run_id_, "test_checkpoint", "runs/" + run_id_ + "/checkpoints/" + which + ".pt", which);
    // The classification report and confusion matrix of the test set, as rows and a file.
    std::vector<std::int64_t> labels, predicted;
    for (const auto& p : predictions) labels.push_back(p.label), predicted.push_back(p.predicted);
    const ClassificationReport report = classification_report(labels, predicted, parts_.class_names);
    store_.add_evaluation(run_id_, which, "split:test", {{"accuracy", report.accuracy}, {"macro_f1", report.macro.f1},
                                                         {"weighted_f1", report.weighted.f1}}, report);
    const fs::path cm = fs::path(run_dir_) / "confusion_matrix.csv";
    {
      std::ofstream out(cm);
      out << "true\\predicted";
      for (const auto& name : parts_.class_names) out << ",\"" << name << "\"";
      out << "\n";
      for (std::size_t t = 0; t < report.confusion.size(); ++t) {
        out << "\"" << parts_.class_names[t] << "\"";
        for (auto n : report.confusion[t]) out << "," << n;
        out << "\n";
      }
    }
    store_.add_artifact(run_id_, "confusion_matrix", "runs/" + run_id_ + "/confusion_matrix.csv", file_checksum(cm.string()));
    if (!options_.quiet) {
      std::cout << report.table();
      std::cout << "test (" << which << " checkpoint, epoch " << epoch + 1 << "):";
      for (const auto& [name, v] : values) std::cout << "  test_" << name << " " << v;
      std::cout << "\n";
    }
  }
  for (const char* which : {"best", "last"}) {
    if (!writer()) break;
    const std::string path = checkpoint_path(which);
    if (!fs::exists(path)) continue;
    const bool keep = t_.checkpoint.keep == "both" || t_.checkpoint.keep == which;
    if (keep) store_.add_artifact(run_id_, std::string("checkpoint_") + which,
                                  "runs/" + run_id_ + "/checkpoints/" + which + ".pt", file_checksum(path));
    else fs::remove(path);
  }
}

RunResult Trainer::run() {
  RunResult result;
  setup();  // failures here leave no record: nothing has started
  start_record();
  result.run_id = run_id_;
  result.run_dir = run_dir_;
  fs::create_directories(fs::path(run_dir_) / "checkpoints");
  progress_ = std::make_unique<Progress>(options_.quiet);
  if (!options_.quiet)
    std::cout << "run " << run_id_ << "  " << spec_.name << "  train " << parts_.plan.train.size() << " / val "
              << parts_.plan.val.size() << " / test " << parts_.plan.test.size() << " images, " << parts_.class_names.size()
              << " classes, " << at::get_num_threads() << " threads\n";
  try {
    std::optional<Heartbeat> heartbeat;
    if (writer()) heartbeat.emplace(store_.path(), run_id_);
    if (dist_) broadcast_state(*dist_, *module_);  // every rank starts from rank 0's weights
    const bool ckpt_higher = higher_is_better(t_.checkpoint.monitor, t_.checkpoint.mode);
    const bool stop_higher = higher_is_better(t_.early_stopping.monitor, t_.early_stopping.mode);
    for (std::int64_t epoch = state_.epoch + 1; epoch < t_.epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      auto train = train_one_epoch(epoch);
      auto val = parts_.plan.val.empty() ? std::map<std::string, double>{} : evaluate("val", parts_.plan.val, kValStream, nullptr);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::vector<MetricRow> rows;
      std::map<std::string, double> keyed;
      for (const auto& [name, v] : train) rows.push_back({epoch + 1, "train", name, v, seconds}), keyed["train_" + name] = v;
      for (const auto& [name, v] : val) rows.push_back({epoch + 1, "val", name, v, seconds}), keyed["val_" + name] = v;
      // Store first, checkpoint second: a kill between them leaves an epoch the
      // resumed run repeats identically, never a checkpoint ahead of the store.
      if (writer()) store_.record_epoch(run_id_, epoch + 1, rows, directions_, lr_);

      const double monitored = keyed.at(t_.checkpoint.monitor);
      const bool first = state_.best_epoch < 0;
      const bool best = first || improved(monitored, state_.best_value, ckpt_higher, 0);
      if (best) state_.best_value = monitored, state_.best_epoch = epoch;
      bool stop = false;
      if (t_.early_stopping.enabled) {
        const double v = keyed.at(t_.early_stopping.monitor);
        if (epoch == 0 || improved(v, state_.stop_best, stop_higher, t_.early_stopping.min_delta)) {
          state_.stop_best = v;
          state_.bad_epochs = 0;
        } else {
          stop = ++state_.bad_epochs > t_.early_stopping.patience;
        }
      }
      state_.epoch = epoch;
      if (t_.checkpoint.keep != "none" || (t_.early_stopping.enabled && t_.early_stopping.restore_best)) {
        // Best first, last second: a kill between them resumes from the
        // previous last.pt and repeats this epoch, rewriting the same best.pt;
        // the other order would resume past a best.pt that never got written.
        if (best) {
          save("best", false);
          fault_point("between_checkpoints", epoch + 1);
        }
        save("last", true);
      }
      progress_->end_epoch(keyed, lr_, seconds, parts_.plan.train.size(), best);
      std::string prune;
      if (options_.should_prune && writer()) prune = options_.should_prune(run_id_, epoch + 1);
      if (dist_) {  // rank 0 asks the pruner; the others follow it
        at::Tensor flag = at::full({1}, prune.empty() ? 0.0f : 1.0f);
        dist_->broadcast(flag, 0);
        if (flag.item<float>() > 0 && prune.empty()) prune = "pruned (decided by rank 0)";
      }
      if (!prune.empty()) throw Pruned(prune);
      if (stop) {
        if (!options_.quiet)
          std::cout << "early stopping: " << t_.early_stopping.monitor << " did not improve for "
                    << t_.early_stopping.patience << " epochs\n";
        break;
      }
    }
    test_and_finish(result);
    if (writer()) store_.set_status(run_id_, RunStatus::Completed);
    result.status = "completed";
  } catch (const Pruned& e) {
    if (writer()) store_.set_status(run_id_, RunStatus::Pruned, e.what());
    result.status = "pruned";
    result.error = e.what();
  } catch (const Interrupted& e) {
    if (writer()) store_.set_status(run_id_, RunStatus::Interrupted, e.what());
    result.status = "interrupted";
    result.error = e.what();
  } catch (const std::exception& e) {
    if (writer()) store_.set_status(run_id_, RunStatus::Failed, e.what());
    result.status = "failed";
    result.error = e.what();
  }
  if (!writer()) fs::remove_all(run_dir_);
  if (!options_.quiet) {
    std::cout << "run " << run_id_ << " " << result.status << "; results in " << run_dir_ << " and " << store_.path()
              << " (trex show " << run_id_ << ")\n";
  }
  return result;
}

}  // namespace

RunResult run_experiment(const ResolvedSpec& spec, const Registry& registry, Store& store, const RunOptions& options) {
  Trainer trainer(spec, registry, store, options);
  return trainer.run();
}

std::string active_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libopenblas") != std::string::npos || line.find("openblas") != std::string::npos) return "openblas";
    if (line.find("libblis") != std::string::npos) return "blis";
    if (line.find("libmkl") != std::string::npos) return "mkl";
    if (line.find("/blas/libblas.so") != std::string::npos) return "reference";
  }
  return "unknown";
}

}  // namespace trex
