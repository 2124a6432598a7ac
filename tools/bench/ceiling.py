"""How close a backbone runs to this machine's ceiling: the best matmul rate of Debian's torch on 2 threads
(fp32 through OpenBLAS, bf16 through oneDNN) and the convolution MACs per image of the benchmark's backbones.
img/s x 2 x GMACs = the GFLOP/s a run achieves, to set against the matmul rate.

  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 /usr/bin/python3 tools/bench/ceiling.py
"""
import time

import torch
import torchvision


def matmul_rate(dtype, n=2048, reps=5):
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def conv_macs(name, size):
    kwargs = {"aux_logits": False, "init_weights": False} if name == "inception_v3" else {}
    model = getattr(torchvision.models, name)(**kwargs).eval()
    total = [0]

    def count(mod, _, out):
        total[0] += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]

    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(count)
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    return total[0] / 1e9


def main():
    torch.set_num_threads(2)
    for dtype in (torch.float32, torch.bfloat16):
        print(f"matmul 2048x2048 {dtype}: {matmul_rate(dtype):.0f} GFLOP/s")
    for name, size in (("resnet18", 224), ("resnet50", 224), ("vgg16", 224), ("inception_v3", 299)):
        print(f"{name} at {size} px: {conv_macs(name, size):.2f} GMACs of convolution per image")


if __name__ == "__main__":
    main()
