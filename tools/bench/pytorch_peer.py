"""PyTorch-Python peer: one seed-CNN epoch on Fashion-MNIST through a DataLoader
with torchvision's RandomCrop(28, padding=2), RandomHorizontalFlip, ToTensor,
Normalize. Run with Debian's /usr/bin/python3. Prints "img/s N"."""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


class FashionMNIST(Dataset):
    """As torchvision.datasets.FashionMNIST: a PIL image per item, then transforms."""

    def __init__(self, root, transform):
        self.images = read_idx(f"{root}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        self.labels = read_idx(f"{root}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tf = transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    loader = DataLoader(FashionMNIST(root, tf), batch_size=128, shuffle=True, num_workers=2, persistent_workers=True)
    net = nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32),
                        nn.MaxPool2d(2), nn.Dropout(0.2), nn.Flatten(), nn.Linear(32 * 13 * 13, 128), nn.ReLU(),
                        nn.Dropout(0.5), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    start = time.perf_counter()
    n = 0
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        n += len(y)
    print(f"img/s {n / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
