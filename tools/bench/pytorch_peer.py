"""PyTorch-Python peer: one training epoch on Fashion-MNIST through a DataLoader with torchvision's
RandomCrop(28, padding=2), RandomHorizontalFlip, ToTensor, Normalize; Adam, batch 128.
Run with Debian's /usr/bin/python3. Prints "img/s N".

  pytorch_peer.py IDX_ROOT THREADS [--model seed_cnn|resnet] [--bf16] [--channels-last] [--images N]

seed_cnn is the book's CNN; resnet is tests/parity/resnet_cifar_reference.py's net with widths 32/64/128,
one block each, projection shortcuts (experiments/fashion_mnist/fast.yaml's first recipe). --bf16 runs forward and
loss under torch.autocast("cpu", bfloat16) with the model and batches channels-last, as PyTorch's docs
recommend for CPU bf16; --channels-last alone runs fp32 with the model and batches channels-last."""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "parity"))
import resnet_cifar_reference  # noqa: E402


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


class FashionMNIST(Dataset):
    """As torchvision.datasets.FashionMNIST: a PIL image per item, then transforms."""

    def __init__(self, root, transform, limit):
        self.images = read_idx(f"{root}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        self.labels = read_idx(f"{root}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
        if limit:
            self.images, self.labels = self.images[:limit], self.labels[:limit]
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def build(model):
    if model == "resnet":
        return resnet_cifar_reference.build({"widths": [32, 64, 128], "blocks": [1, 1, 1], "shortcut": "projection",
                                             "channels": 1, "classes": 10})
    return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.Dropout(0.2), nn.Flatten(),
                         nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("threads", nargs="?", type=int, default=2)
    ap.add_argument("--model", choices=["seed_cnn", "resnet"], default="seed_cnn")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--images", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tf = transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    loader = DataLoader(FashionMNIST(args.root, tf, args.images), batch_size=128, shuffle=True, num_workers=2,
                        persistent_workers=True)
    net = build(args.model)
    fmt = torch.channels_last if args.bf16 or args.channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    start = time.perf_counter()
    n = 0
    for x, y in loader:
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = loss_fn(net(x.to(memory_format=fmt)), y)
        loss.backward()
        opt.step()
        n += len(y)
    print(f"img/s {n / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
