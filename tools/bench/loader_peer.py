"""The PyTorch peer of `trex bench-loader tools/bench/transfer.yaml`: one
shuffled epoch of torchvision's ImageFolder through DataLoader(num_workers=
WORKERS), PIL decode, resize to SIZE x SIZE, horizontal flip, to tensor,
normalise, batches of 64; no model. Prints the epoch's img/s.

usage: loader_peer.py ROOT SIZE WORKERS"""
import sys
import time

import torch
import torchvision
from torchvision import transforms

root, size, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
data = torchvision.datasets.ImageFolder(root, transforms.Compose([
    transforms.Resize((size, size)), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]))
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=workers)
start, seen = time.perf_counter(), 0
for images, labels in loader:
    seen += len(labels)
print(f"pytorch {seen / (time.perf_counter() - start):.2f} img/s")
