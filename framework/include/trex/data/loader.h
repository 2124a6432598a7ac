#pragma once
// Batches for one pass over a set: decoding and augmentation in worker threads
// with a bounded prefetch window, delivered in order. Every sample's RNG comes
// from (seed, epoch, position, stream), so the batches are the same whatever
// the thread count, and a resumed run sees what an uninterrupted one saw.
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <ATen/core/Tensor.h>

#include "trex/config/splits.h"
#include "trex/plugin/augmentation.h"

namespace trex {

struct PipelineStep {
  std::shared_ptr<Augmentation> op;
  double p = 1.0;
  std::string name;
  bool deterministic = false;  ///< the plugin draws no random numbers
};

/// An augmentation list applied in order, each step with its probability.
class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<PipelineStep> steps) : steps_(std::move(steps)) {}
  cv::Mat apply(const cv::Mat& image, Rng& rng, const SampleContext& at = {}) const;
  ImageShape output_shape(ImageShape in) const;
  /// The first step whose output depends on the RNG (a random plugin, or p < 1); empty: none.
  std::string random_step() const {
    for (const auto& s : steps_)
      if (!s.deterministic || s.p < 1.0) return s.name;
    return "";
  }

 private:
  std::vector<PipelineStep> steps_;
};

struct Batch {
  at::Tensor images;                   ///< [B, C, H, W] float32
  at::Tensor targets;                  ///< [B] int64
  std::vector<std::size_t> positions;  ///< positions in the set, for per-example records
};

/// The random streams of a run's train, val and test passes (LoaderOptions::stream).
constexpr std::uint64_t kTrainStream = 1, kValStream = 2, kTestStream = 3;

struct LoaderOptions {
  std::int64_t batch_size = 128;
  bool shuffle = false;
  /// Loader threads decoding up to `prefetch` batches ahead; 0: next()
  /// decodes each batch itself, in parallel over ATen's intra-op threads.
  std::int64_t workers = 2;
  std::int64_t prefetch = 4;
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;
  std::uint64_t stream = 0;  ///< separates train / val / test streams
  ImageShape shape;          ///< every sample must come out this shape
  /// Positions to visit, in this order (a data-parallel rank's shard); unset:
  /// the whole set in order()'s order.
  std::optional<std::vector<std::size_t>> order;
};

class BatchLoader {
 public:
  BatchLoader(const Dataset& dataset, const std::vector<SampleRef>& set, const Pipeline& pipeline, LoaderOptions o);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  std::size_t batches() const { return batches_; }
  /// The next batch in order; nullopt after the last.
  std::optional<Batch> next();

  /// The order of the set in epoch `epoch` (positions into the set).
  static std::vector<std::size_t> order(std::size_t n, bool shuffle, std::uint64_t seed, std::int64_t epoch,
                                        std::uint64_t stream);

 private:
  /// Batch k; `parallel`: its samples spread over ATen's intra-op threads.
  Batch make(std::size_t k, bool parallel) const;
  void work();

  const Dataset& dataset_;
  const std::vector<SampleRef>& set_;
  const Pipeline& pipeline_;
  LoaderOptions o_;
  std::vector<std::size_t> order_;
  std::size_t batches_ = 0;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::size_t, Batch> ready_;
  std::size_t next_to_make_ = 0;
  std::size_t next_to_hand_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace trex
