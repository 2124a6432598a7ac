#include "trex/dist/data_parallel.h"

#include <cstdio>

#include "trex/dist/grad_sync.h"
#include "trex/dist/sync_batch_norm.h"

namespace trex {

DataParallel::DataParallel(const DistEnv& env) : env_(env) {}
DataParallel::~DataParallel() = default;

template <typename F>
auto DataParallel::timed(F f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto out = f();
  other_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++other_collectives_;
  return out;
}

void DataParallel::attach(torch::nn::Module& module, double bucket_mb, bool sync_bn,
                          std::chrono::milliseconds timeout) {
  module_ = &module;
  if (env_.world == 1) return;
  collective_ = make_gloo_collective(env_, timeout);
  sync_ = std::make_unique<GradientSync>(*collective_, static_cast<std::size_t>(bucket_mb * (1 << 20)));
  has_buffers_ = !module.buffers().empty();
  if (sync_bn) enable_sync_batch_norm(module, *collective_);
}

void DataParallel::start() {
  if (collective_) broadcast_state(*collective_, *module_);
}

void DataParallel::before_step() {
  if (!collective_ || !has_buffers_) return;
  timed([&] {
    broadcast_state(*collective_, *module_, true);
    return 0;
  });
}

void DataParallel::arm(bool step_now, bool stop_requested) {
  if (!sync_) return;
  std::vector<at::Tensor> trainable;
  for (const auto& p : module_->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  sync_->arm(trainable, step_now, stop_requested);
}

bool DataParallel::finish() { return sync_ && sync_->finish(); }

std::optional<std::vector<std::size_t>> DataParallel::shard(const std::vector<std::size_t>& order, std::size_t batch,
                                                            bool equal) const {
  if (env_.world == 1) return std::nullopt;
  return shard_order(order, batch, env_.rank, env_.world, equal);
}

std::size_t DataParallel::eval_batches(std::size_t size, std::size_t batch) const {
  return env_.world == 1 ? SIZE_MAX : (size + batch - 1) / batch;
}

MetricBatch DataParallel::gather(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& per_example,
                                 std::int64_t classes, std::int64_t local_batch, std::vector<std::size_t>* positions) {
  if (!collective_) return {logits, targets, per_example.sum().item<double>()};
  // One row per example: logits, loss, target, position, valid — padded to
  // the local batch size, so every rank sends the same shape.
  const std::int64_t n = targets.size(0);
  at::Tensor rows = at::zeros({local_batch, classes + 4}, at::kDouble);
  if (n > 0) {
    rows.narrow(0, 0, n).narrow(1, 0, classes).copy_(logits.to(at::kDouble).cpu());
    rows.narrow(0, 0, n).select(1, classes).copy_(per_example.to(at::kDouble).cpu());
    rows.narrow(0, 0, n).select(1, classes + 1).copy_(targets.to(at::kDouble).cpu());
    if (positions) {
      auto r = rows.accessor<double, 2>();
      for (std::int64_t i = 0; i < n; ++i)
        r[i][classes + 2] = static_cast<double>((*positions)[static_cast<std::size_t>(i)]);
    }
    rows.narrow(0, 0, n).select(1, classes + 3).fill_(1.0);
  }
  at::Tensor all = timed([&] { return collective_->allgather(rows).reshape({-1, classes + 4}); });
  all = all.index_select(0, all.select(1, classes + 3).nonzero().flatten());
  const auto device = logits.defined() && logits.numel() ? logits.device() : targets.device();
  MetricBatch out{all.narrow(1, 0, classes).to(at::kFloat).to(device),
                  all.select(1, classes + 1).to(at::kLong).to(device), all.select(1, classes).sum().item<double>()};
  if (positions) {
    positions->clear();
    const at::Tensor pos = all.select(1, classes + 2).contiguous();
    const auto p = pos.accessor<double, 1>();
    for (std::int64_t i = 0; i < pos.size(0); ++i) positions->push_back(static_cast<std::size_t>(p[i]));
  }
  return out;
}

bool DataParallel::agree(bool rank0_answer) {
  if (!collective_) return rank0_answer;
  at::Tensor flag = at::full({1}, rank0_answer ? 1.0f : 0.0f);
  collective_->broadcast(flag, 0);
  return flag.item<float>() > 0;
}

void DataParallel::begin_epoch() {
  grad_ops0_ = sync_ ? sync_->collectives() : 0;
  grad_s0_ = sync_ ? sync_->exposed_seconds() : 0;
  other_ops0_ = other_collectives_;
  other_s0_ = other_seconds_;
}

std::string DataParallel::epoch_summary(std::size_t steps, double train_seconds) const {
  if (!sync_) return "";
  // Gradient buckets overlap backward; what finish() still waited for is
  // exposed (and includes waiting for the slower rank). Metric gathers and
  // buffer broadcasts are synchronous.
  const double grad_s = sync_->exposed_seconds() - grad_s0_, other_s = other_seconds_ - other_s0_;
  const double n = static_cast<double>(std::max<std::size_t>(steps, 1));
  const double grad_ops = static_cast<double>(sync_->collectives() - grad_ops0_);
  const double other_ops = static_cast<double>(other_collectives_ - other_ops0_);
  char line[512];
  std::snprintf(
      line, sizeof line,
      "data-parallel: %d ranks, %zu steps, %.2f collectives/step (%.2f gradient buckets, %.2f metric gathers and "
      "buffer broadcasts), %.3f s of %.3f s training waiting on communication (%.1f%%; gradients, after backward, %.3f "
      "s)",
      env_.world, steps, (grad_ops + other_ops) / n, grad_ops / n, other_ops / n, grad_s + other_s, train_seconds,
      100.0 * (grad_s + other_s) / train_seconds, grad_s);
  return line;
}

}  // namespace trex
