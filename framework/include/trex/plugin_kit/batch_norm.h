#pragma once
// BatchNorm for model plugins, with torch's parameter and buffer names and
// torch's batch_norm kernel (weight import and torchvision parity are
// unchanged), that a data-parallel run can synchronise across ranks
// (train.sync_bn). LibTorch's C++ modules have no forward hooks, so the host
// cannot reach into a torch::nn::BatchNorm2d; and a subclass of one does not
// link against Debian's libtorch (BatchNormImplBase::pretty_print is not
// exported), hence a module of our own.
#include <functional>
#include <ostream>

#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>

namespace trex {

/// Normalises `input` with statistics over every rank, updating the buffers.
using BatchNormSync = std::function<torch::Tensor(
    const torch::Tensor& input, const torch::nn::BatchNormOptions& options, torch::Tensor& weight, torch::Tensor& bias,
    torch::Tensor& running_mean, torch::Tensor& running_var, torch::Tensor& num_batches_tracked)>;

/// What the host looks for: a BatchNorm layer it may synchronise.
struct SyncableNorm {
  virtual ~SyncableNorm() = default;
  BatchNormSync sync;  ///< set by the host; empty: this process's batch alone
};

/// torch::nn::BatchNorm{1,2}d's behaviour: D = 1 takes [N, C] or [N, C, L], D = 2 [N, C, H, W].
template <int D>
class BatchNormNdImpl : public torch::nn::Cloneable<BatchNormNdImpl<D>>, public SyncableNorm {
 public:
  explicit BatchNormNdImpl(const torch::nn::BatchNormOptions& options) : options(options) { reset(); }
  explicit BatchNormNdImpl(std::int64_t features) : BatchNormNdImpl(torch::nn::BatchNormOptions(features)) {}

  void reset() override {
    const auto n = options.num_features();
    const bool affine = options.affine(), track = options.track_running_stats();
    weight = this->register_parameter("weight", affine ? torch::ones({n}) : torch::Tensor(), affine);
    bias = this->register_parameter("bias", affine ? torch::zeros({n}) : torch::Tensor(), affine);
    running_mean = this->register_buffer("running_mean", track ? torch::zeros({n}) : torch::Tensor());
    running_var = this->register_buffer("running_var", track ? torch::ones({n}) : torch::Tensor());
    num_batches_tracked =
        this->register_buffer("num_batches_tracked", track ? torch::tensor(0, torch::kLong) : torch::Tensor());
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const bool ok = D == 2 ? input.dim() == 4 : input.dim() == 2 || input.dim() == 3;
    TORCH_CHECK(ok, "BatchNorm", D, "d: expected ", D == 2 ? "4D" : "2D or 3D", " input, got ", input.dim(), "D");
    const bool training = this->is_training();
    if (sync && training) return sync(input, options, weight, bias, running_mean, running_var, num_batches_tracked);
    double factor = options.momentum() ? *options.momentum() : 0.0;
    if (training && options.track_running_stats()) {
      num_batches_tracked += 1;
      if (!options.momentum()) factor = 1.0 / num_batches_tracked.template item<double>();
    }
    return torch::batch_norm(input, weight, bias, running_mean, running_var, training || !options.track_running_stats(),
                             factor, options.eps(), false);
  }

  void pretty_print(std::ostream& stream) const override {
    stream << "trex::BatchNorm" << D << "d(" << options.num_features() << ", eps=" << options.eps() << ", momentum=";
    if (options.momentum())
      stream << *options.momentum();
    else
      stream << "None";
    stream << ", affine=" << options.affine() << ", track_running_stats=" << options.track_running_stats() << ")";
  }

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

using BatchNorm1dImpl = BatchNormNdImpl<1>;
using BatchNorm2dImpl = BatchNormNdImpl<2>;
TORCH_MODULE(BatchNorm1d);
TORCH_MODULE(BatchNorm2d);

}  // namespace trex
