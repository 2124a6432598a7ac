// The peer trex must match: a minimal hand-written LibTorch training loop over
// preloaded Fashion-MNIST tensors, random crop (padding 2) and horizontal flip
// done as batched tensor ops, Adam, batch 128.
// Usage: bench_libtorch_loop IDX_ROOT THREADS [--model seed_cnn|resnet] [--bf16]
//                            [--channels-last] [--trex-kernels] [--images N]   -> prints "img/s N"
//   seed_cnn: the book's CNN (plugins/models/seed_cnn); resnet: resnet_cifar with widths
//   32/64/128, one block each, projection shortcuts (experiments/fashion_mnist/fast.yaml's net).
//   --bf16: forward and loss under CPU autocast to bfloat16, and channels-last, as trex's
//   precision bf16; --trex-kernels: trex::dropout instead of torch::dropout, so the ratio
//   to trex measures the framework alone.
#include <malloc.h>
#include <zlib.h>

#include <chrono>
#include <climits>
#include <iostream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "trex/plugin_kit/dropout.h"

namespace {

namespace nn = torch::nn;
bool trex_kernels = false;

torch::Tensor read_idx(const std::string& path, int header_words) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  gzclose(f);
  const size_t header = 4 * static_cast<size_t>(header_words);
  auto t = torch::from_blob(bytes.data() + header, {static_cast<long>(bytes.size() - header)}, torch::kUInt8).clone();
  return t;
}

// As trex::in_channels_last (model/precision.h): the exact channels-last strides, which
// contiguous(ChannelsLast) does not give a tensor with one channel (the first conv's weight).
torch::Tensor in_channels_last(const torch::Tensor& x) {
  if (x.strides() == c10::IntArrayRef(c10::get_channels_last_strides_2d(x.sizes()))) return x;
  return torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::ChannelsLast)).copy_(x);
}

torch::Tensor drop(const torch::Tensor& x, double p, bool training) {
  return trex_kernels ? trex::dropout(x, p, training) : torch::dropout(x, p, training);
}

struct SeedCnnImpl : nn::Module {
  SeedCnnImpl()
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 16, 3)))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(16, 32, 3).padding(1)))),
        bn(register_module("bn", nn::BatchNorm2d(32))),
        fc1(register_module("fc1", nn::Linear(32 * 13 * 13, 128))),
        fc2(register_module("fc2", nn::Linear(128, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(conv1(x));
    x = bn(torch::relu(conv2(x)));
    x = drop(torch::max_pool2d(x, 2), 0.2, is_training());
    x = drop(torch::relu(fc1(x.flatten(1))), 0.5, is_training());
    return fc2(x);
  }
  nn::Conv2d conv1, conv2;
  nn::BatchNorm2d bn;
  nn::Linear fc1, fc2;
};
TORCH_MODULE(SeedCnn);

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

struct BlockImpl : nn::Module {
  BlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1(register_module("conv1", conv(in, out, 3, stride))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", conv(out, out, 3, 1))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out)
      downsample = register_module("downsample", nn::Sequential(conv(in, out, 1, stride), nn::BatchNorm2d(out)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn2(conv2(torch::relu(bn1(conv1(x)))));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }
  nn::Conv2d conv1, conv2;
  nn::BatchNorm2d bn1, bn2;
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

struct ResNetImpl : nn::Module {
  ResNetImpl()
      : stem(register_module("conv1", conv(1, 32, 3, 1))),
        bn(register_module("bn1", nn::BatchNorm2d(32))),
        layer1(register_module("layer1", Block(32, 32, 1))),
        layer2(register_module("layer2", Block(32, 64, 2))),
        layer3(register_module("layer3", Block(64, 128, 2))),
        fc(register_module("fc", nn::Linear(128, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = layer3(layer2(layer1(torch::relu(bn(stem(x))))));
    return fc(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }
  nn::Conv2d stem;
  nn::BatchNorm2d bn;
  Block layer1, layer2, layer3;
  nn::Linear fc;
};
TORCH_MODULE(ResNet);

struct Options {
  std::string root = "/usr/share/datasets/fashion-mnist", model = "seed_cnn";
  int threads = 2;
  bool bf16 = false, channels_last = false;
  long images = 0;  // 0: all
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc > 1) o.root = argv[1];
  if (argc > 2) o.threads = std::atoi(argv[2]);
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc)
      o.model = argv[++i];
    else if (a == "--images" && i + 1 < argc)
      o.images = std::atol(argv[++i]);
    else if (a == "--bf16")
      o.bf16 = o.channels_last = true;
    else if (a == "--channels-last")
      o.channels_last = true;
    else if (a == "--trex-kernels")
      trex_kernels = true;
    else
      throw std::runtime_error("unknown argument " + a);
  }
  if (o.model != "seed_cnn" && o.model != "resnet") throw std::runtime_error("--model: seed_cnn or resnet");
  return o;
}

/// Random crop with padding 2 and a horizontal flip, per sample, as batched tensor ops.
torch::Tensor augment(const torch::Tensor& images, const torch::Tensor& idx) {
  const long m = idx.size(0);
  auto x = images.index_select(0, idx).to(torch::kFloat).div_(255);
  x = torch::constant_pad_nd(x, {2, 2, 2, 2}, 0);
  const auto rows = torch::arange(28, torch::kLong), cols = torch::arange(28, torch::kLong);
  auto dy = torch::randint(0, 5, {m, 1}, torch::kLong), dx = torch::randint(0, 5, {m, 1}, torch::kLong);
  x = x.gather(2, (dy + rows).view({m, 1, 28, 1}).expand({m, 1, 28, 32}));
  x = x.gather(3, (dx + cols).view({m, 1, 1, 28}).expand({m, 1, 28, 28}));
  auto flip = torch::rand({m, 1, 1, 1}) < 0.5;
  return (torch::where(flip, x.flip(3), x) - 0.2860) / 0.3530;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_MAX, 0);  // what trex-torch sets (trex::keep_freed_memory)
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  const Options o = parse(argc, argv);
  torch::set_num_threads(o.threads);
  torch::manual_seed(0);
  auto images = read_idx(o.root + "/train-images-idx3-ubyte.gz", 4).view({-1, 1, 28, 28});
  auto labels = read_idx(o.root + "/train-labels-idx1-ubyte.gz", 2).to(torch::kLong);
  const long n = o.images > 0 ? std::min(o.images, images.size(0)) : images.size(0), batch = 128;
  nn::AnyModule net = o.model == "resnet" ? nn::AnyModule(ResNet()) : nn::AnyModule(SeedCnn());
  auto module = net.ptr();
  if (o.channels_last)  // as trex's Precision::apply_to
    for (auto& p : module->parameters())
      if (p.dim() == 4) p.set_data(in_channels_last(p.data()));
  torch::optim::Adam opt(module->parameters(), torch::optim::AdamOptions(2e-3));
  module->train();
  const auto start = std::chrono::steady_clock::now();
  auto order = torch::randperm(n, torch::kLong);
  for (long b = 0; b < n; b += batch) {
    auto idx = order.slice(0, b, std::min(n, b + batch));
    auto x = augment(images, idx);
    if (o.channels_last) x = in_channels_last(x);
    auto y = labels.index_select(0, idx);
    opt.zero_grad();
    at::autocast::set_cpu_enabled(o.bf16);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    auto loss = torch::cross_entropy_loss(net.forward(x), y);
    at::autocast::set_cpu_enabled(false);
    if (o.bf16) at::autocast::clear_cache();
    loss.backward();
    opt.step();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "img/s " << static_cast<double>(n) / s << "\n";
}
