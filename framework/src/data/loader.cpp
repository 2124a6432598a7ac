#include "trex/data/loader.h"

#include "trex/data/image_tensor.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/Parallel.h>

namespace trex {

cv::Mat Pipeline::apply(const cv::Mat& image, Rng& rng, const SampleContext& at) const {
  cv::Mat out = image;
  for (const auto& step : steps_) {
    if (step.p < 1.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) >= step.p) continue;
    out = step.op->apply_at(out, rng, at);
  }
  return out;
}

ImageShape Pipeline::output_shape(ImageShape in) const {
  for (const auto& step : steps_) in = step.op->output_shape(in);
  return in;
}

std::vector<std::size_t> BatchLoader::order(std::size_t n, bool shuffle, std::uint64_t seed, std::int64_t epoch,
                                            std::uint64_t stream) {
  std::vector<std::size_t> out(n);
  std::iota(out.begin(), out.end(), 0);
  if (shuffle) {
    Rng rng(mix_seed(seed, static_cast<std::uint64_t>(epoch), stream, 0x5eed));
    std::shuffle(out.begin(), out.end(), rng);
  }
  return out;
}

BatchLoader::BatchLoader(const Dataset& dataset, const std::vector<SampleRef>& set, const Pipeline& pipeline,
                         LoaderOptions o)
    : dataset_(dataset), set_(set), pipeline_(pipeline), o_(o) {
  order_ = o.order ? *o.order : order(set.size(), o.shuffle, o.seed, o.epoch, o.stream);
  const auto bs = static_cast<std::size_t>(o.batch_size);
  batches_ = (order_.size() + bs - 1) / bs;
  for (std::int64_t i = 0; i < o.workers; ++i) threads_.emplace_back([this] { work(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Batch BatchLoader::make(std::size_t k, bool parallel) const {
  const auto bs = static_cast<std::size_t>(o_.batch_size);
  const std::size_t begin = k * bs, end = std::min(order_.size(), begin + bs);
  const auto [c, h, w] = o_.shape;
  Batch b;
  b.images = at::empty({static_cast<std::int64_t>(end - begin), c, h, w}, at::kFloat);
  b.targets = at::empty({static_cast<std::int64_t>(end - begin)}, at::kLong);
  b.positions.resize(end - begin);
  float* dst = b.images.data_ptr<float>();
  std::int64_t* labels = b.targets.data_ptr<std::int64_t>();
  const std::size_t plane = static_cast<std::size_t>(h * w);
  const auto one = [&](std::size_t i) {
    const std::size_t pos = order_[i];
    const SampleRef& ref = set_[pos];
    Rng rng(mix_seed(o_.seed, static_cast<std::uint64_t>(o_.epoch), pos, o_.stream));
    const cv::Mat img = pipeline_.apply(dataset_.image(ref.split, ref.index), rng, {o_.seed, o_.epoch, pos});
    image_to_chw(img, o_.shape, dst + (i - begin) * plane * static_cast<std::size_t>(c),
                 "sample " + std::to_string(ref.index) + " of split '" + ref.split + "'");
    labels[i - begin] = ref.label;
    b.positions[i - begin] = pos;
  };
  if (parallel) {
    // Pulled one at a time, not split in halves: images of 200 and 500 px
    // decode in very different times.
    std::atomic<std::size_t> next{begin};
    at::parallel_for(0, at::get_num_threads(), 1, [&](std::int64_t, std::int64_t) {
      try {
        for (std::size_t i; (i = next++) < end;) one(i);
      } catch (...) {
        next = end;  // the other threads stop too; parallel_for rethrows the first error
        throw;
      }
    });
  } else {
    for (std::size_t i = begin; i < end; ++i) one(i);
  }
  return b;
}

void BatchLoader::work() {
  for (;;) {
    std::size_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stop_ || error_ || next_to_make_ >= batches_ ||
               next_to_make_ < next_to_hand_ + static_cast<std::size_t>(o_.prefetch);
      });
      if (stop_ || error_ || next_to_make_ >= batches_) return;
      k = next_to_make_++;
    }
    try {
      Batch b = make(k, false);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(k, std::move(b));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  if (next_to_hand_ >= batches_) return std::nullopt;
  if (threads_.empty()) return make(next_to_hand_++, true);
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return error_ || ready_.count(next_to_hand_); });
  if (error_) std::rethrow_exception(error_);
  Batch b = std::move(ready_.at(next_to_hand_));
  ready_.erase(next_to_hand_++);
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace trex
