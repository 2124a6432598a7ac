// The peer trex must match: a minimal hand-written LibTorch training loop for
// the seed CNN over preloaded Fashion-MNIST tensors, with random crop
// (padding 2) and horizontal flip done as batched tensor ops.
// Usage: bench_libtorch_loop IDX_ROOT THREADS  -> prints "img/s N"
#include <malloc.h>
#include <zlib.h>

#include <chrono>
#include <climits>
#include <iostream>

#include <torch/torch.h>

namespace {

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

struct NetImpl : torch::nn::Module {
  NetImpl()
      : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3)))),
        conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(32))),
        fc1(register_module("fc1", torch::nn::Linear(32 * 13 * 13, 128))),
        fc2(register_module("fc2", torch::nn::Linear(128, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(conv1(x));
    x = bn(torch::relu(conv2(x)));
    x = torch::dropout(torch::max_pool2d(x, 2), 0.2, is_training());
    x = torch::dropout(torch::relu(fc1(x.flatten(1))), 0.5, is_training());
    return fc2(x);
  }
  torch::nn::Conv2d conv1, conv2;
  torch::nn::BatchNorm2d bn;
  torch::nn::Linear fc1, fc2;
};
TORCH_MODULE(Net);

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_MAX, 0);  // what trex-torch sets (trex::keep_freed_memory)
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  const std::string root = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  torch::set_num_threads(argc > 2 ? std::atoi(argv[2]) : 2);
  torch::manual_seed(0);
  auto images = read_idx(root + "/train-images-idx3-ubyte.gz", 4).view({-1, 1, 28, 28});
  auto labels = read_idx(root + "/train-labels-idx1-ubyte.gz", 2).to(torch::kLong);
  const long n = images.size(0), batch = 128;
  Net net;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(2e-3));
  net->train();
  const auto start = std::chrono::steady_clock::now();
  auto order = torch::randperm(n, torch::kLong);
  auto rows = torch::arange(28, torch::kLong), cols = torch::arange(28, torch::kLong);
  for (long b = 0; b < n; b += batch) {
    auto idx = order.slice(0, b, std::min(n, b + batch));
    const long m = idx.size(0);
    auto x = images.index_select(0, idx).to(torch::kFloat).div_(255);
    // Random crop with padding 2: pad, then gather a 28x28 window per sample.
    x = torch::constant_pad_nd(x, {2, 2, 2, 2}, 0);
    auto dy = torch::randint(0, 5, {m, 1}, torch::kLong), dx = torch::randint(0, 5, {m, 1}, torch::kLong);
    auto r = (dy + rows).view({m, 1, 28, 1}).expand({m, 1, 28, 32});
    x = x.gather(2, r);
    auto c = (dx + cols).view({m, 1, 1, 28}).expand({m, 1, 28, 28});
    x = x.gather(3, c);
    auto flip = torch::rand({m, 1, 1, 1}) < 0.5;
    x = torch::where(flip, x.flip(3), x);
    x = (x - 0.2860) / 0.3530;
    auto y = labels.index_select(0, idx);
    opt.zero_grad();
    auto loss = torch::cross_entropy_loss(net->forward(x), y);
    loss.backward();
    opt.step();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "img/s " << static_cast<double>(n) / s << "\n";
}
