#include "trex/dist/grad_sync.h"

#include <chrono>

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/utils.h>

namespace trex {

void broadcast_state(Collective& c, torch::nn::Module& module, bool buffers_only) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  if (!buffers_only)
    for (auto& p : module.parameters()) tensors.push_back(p);
  for (auto& b : module.buffers()) tensors.push_back(b);
  // One flat buffer per dtype (BatchNorm's num_batches_tracked is int64).
  std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
  for (auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, list] : by_type) {
    std::vector<at::Tensor> flat;
    for (auto& t : list) flat.push_back(t.reshape(-1));
    at::Tensor all = at::cat(flat);
    c.broadcast(all, 0);
    std::int64_t at = 0;
    for (auto& t : list) {
      t.copy_(all.narrow(0, at, t.numel()).view_as(t));
      at += t.numel();
    }
  }
}

GradientSync::~GradientSync() {
  for (auto& [node, key] : hooks_) node->del_post_hook(key);
}

void GradientSync::rebuild(const std::vector<at::Tensor>& trainable) {
  for (auto& [node, key] : hooks_) node->del_post_hook(key);
  hooks_.clear();
  params_ = trainable;
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  // Backward produces the last layers' gradients first: buckets run from the end.
  std::size_t bytes = 0;
  for (std::size_t k = params_.size(); k-- > 0;) {
    const std::size_t size = static_cast<std::size_t>(params_[k].numel()) * 4;
    // DDP's first bucket is small, so communication starts early in backward.
    const std::size_t cap = buckets_.size() <= 1 ? std::min<std::size_t>(bucket_bytes_, 1u << 20) : bucket_bytes_;
    if (buckets_.empty() || (bytes + size > cap && !buckets_.back().members.empty())) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().members.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += size;
  }
  for (std::size_t k = 0; k < params_.size(); ++k) {
    // The accumulator is held here: a variable keeps it only weakly, and a new one would lose the hook.
    auto node = torch::autograd::impl::grad_accumulator(params_[k]);
    const auto key = node->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient(k);
          return outputs;
        }));
    hooks_.emplace_back(node, key);
  }
}

void GradientSync::arm(const std::vector<at::Tensor>& trainable, bool sync, bool stop) {
  bool same = trainable.size() == params_.size();
  for (std::size_t k = 0; same && k < trainable.size(); ++k) same = trainable[k].is_same(params_[k]);
  if (!same) rebuild(trainable);
  armed_ = sync;
  stop_ = stop;
  for (auto& b : buckets_) b.ready = 0, b.launched = false, b.sent.clear();
}

void GradientSync::on_gradient(std::size_t index) {
  if (!armed_) return;
  Bucket& b = buckets_[bucket_of_[index]];
  if (++b.ready == b.members.size()) launch(b);
}

void GradientSync::launch(Bucket& b) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> flat;
  for (std::size_t k : b.members)
    if (params_[k].grad().defined()) {
      b.sent.push_back(k);
      flat.push_back(params_[k].grad().reshape(-1).to(at::kFloat));
    }
  const bool first = &b == &buckets_.front();
  if (first) flat.push_back(at::full({1}, stop_ ? 1.0f : 0.0f));  // the stop flag rides along
  b.launched = true;
  if (flat.empty()) return;
  b.flat = at::cat(flat);
  b.wait = c_.allreduce_sum_async(b.flat);
  ++collectives_;
}

bool GradientSync::finish() {
  torch::NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  for (auto& b : buckets_)
    if (!b.launched) launch(b);
  if (buckets_.empty()) {  // nothing trains: the stop flag still has to travel
    at::Tensor flag = at::full({1}, stop_ ? 1.0f : 0.0f);
    c_.allreduce_sum(flag);
    ++collectives_;
    any_stop_ = flag.item<float>() > 0;
  }
  const double scale = 1.0 / c_.world();
  for (auto& b : buckets_) {
    if (!b.wait) continue;
    b.wait();
    b.wait = nullptr;
    if (&b == &buckets_.front()) any_stop_ = b.flat[b.flat.numel() - 1].item<float>() > 0;
    b.flat.mul_(scale);
    std::int64_t at = 0;
    for (std::size_t k : b.sent) {
      params_[k].mutable_grad().copy_(b.flat.narrow(0, at, params_[k].numel()).view_as(params_[k]));
      at += params_[k].numel();
    }
  }
  armed_ = false;
  exposed_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return any_stop_;
}

std::vector<std::size_t> shard_order(const std::vector<std::size_t>& order, std::size_t batch, int rank, int world,
                                     bool equal) {
  std::vector<std::size_t> out;
  const auto w = static_cast<std::size_t>(world), r = static_cast<std::size_t>(rank);
  for (std::size_t begin = 0; begin < order.size(); begin += batch) {
    const std::size_t size = std::min(batch, order.size() - begin);
    const std::size_t part = equal ? size / w : (size + w - 1) / w;
    const std::size_t from = std::min(size, r * part), to = std::min(size, (r + 1) * part);
    out.insert(out.end(), order.begin() + static_cast<std::ptrdiff_t>(begin + from),
               order.begin() + static_cast<std::ptrdiff_t>(begin + to));
  }
  return out;
}

}  // namespace trex
