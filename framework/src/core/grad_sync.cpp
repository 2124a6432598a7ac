#include "trex/core/grad_sync.h"

#include <chrono>

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

bool GradientSync::average(const std::vector<at::Tensor>& all_params, bool stop) {
  torch::NoGradGuard no_grad;
  // Parameters the forward pass did not reach (past a cut) have no gradient on
  // any rank: the graph is the same everywhere, so they are left out everywhere.
  std::vector<at::Tensor> params;
  for (const auto& p : all_params)
    if (p.grad().defined()) params.push_back(p);
  const auto start = std::chrono::steady_clock::now();
  const double scale = 1.0 / c_.world();
  bool any_stop = false;
  std::size_t i = 0;
  while (i < params.size()) {
    // A bucket: consecutive float32 gradients up to bucket_bytes_ (at least one).
    std::vector<at::Tensor> bucket;
    std::size_t bytes = 0;
    while (i < params.size() && (bucket.empty() || bytes + params[i].numel() * 4 <= bucket_bytes_)) {
      bytes += params[i].numel() * 4;
      bucket.push_back(params[i++]);
    }
    std::vector<at::Tensor> flat;
    for (auto& p : bucket) flat.push_back(p.grad().reshape(-1).to(at::kFloat));
    const bool last = i == params.size();
    if (last) flat.push_back(at::full({1}, stop ? 1.0f : 0.0f));  // the stop flag rides along
    at::Tensor all = at::cat(flat);
    c_.allreduce_sum(all);
    ++collectives_;
    if (last) any_stop = all[all.numel() - 1].item<float>() > 0;
    all.mul_(scale);
    std::int64_t at = 0;
    for (auto& p : bucket) {
      p.mutable_grad().copy_(all.narrow(0, at, p.numel()).view_as(p));
      at += p.numel();
    }
  }
  if (params.empty()) {
    at::Tensor flag = at::full({1}, stop ? 1.0f : 0.0f);
    c_.allreduce_sum(flag);
    ++collectives_;
    any_stop = flag.item<float>() > 0;
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return any_stop;
}

std::vector<std::size_t> shard_order(const std::vector<std::size_t>& order, std::size_t batch, int rank, int world, bool equal) {
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
