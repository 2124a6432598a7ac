"""The PyTorch peer of tools/bench/transfer.yaml: torchvision ImageFolder +
DataLoader(num_workers=2), resize to SIZE, flip, normalise; a torchvision
backbone cut where trex cuts it, frozen in eval mode; global average pool and
a linear head trained with Adam for one epoch. Prints the training pass's img/s.
With finetune the whole backbone trains too (train mode, BatchNorm updating
its statistics, Adam over every parameter), as trex's model.backbone.freeze: false.

usage: transfer_peer.py ROOT MODEL SIZE THREADS fp32|bf16 nchw|cl [frozen|finetune]"""
import sys
import time

import torch
import torchvision
from torch import nn
from torchvision import transforms

root, name, size, threads, precision, layout = sys.argv[1:7]
finetune = sys.argv[7:8] == ["finetune"]
size, threads = int(size), int(threads)
torch.set_num_threads(threads)
torch.manual_seed(0)

net = getattr(torchvision.models, name)()
if name.startswith("resnet"):
    backbone = nn.Sequential(*list(net.children())[:-2])  # up to layer4
elif name.startswith("vgg"):
    backbone = net.features  # up to block5_pool
else:  # inception_v3 up to Mixed_7c (trex's mixed10)
    net.aux_logits, net.AuxLogits = False, None
    backbone = nn.Sequential(*[m for k, m in net.named_children() if k not in ("avgpool", "dropout", "fc")])
backbone.train(finetune).requires_grad_(finetune)
with torch.no_grad():
    channels = backbone.eval()(torch.zeros(1, 3, size, size)).shape[1]
backbone.train(finetune)
head = nn.Linear(channels, 10)
memory_format = torch.channels_last if layout == "cl" else torch.contiguous_format
backbone = backbone.to(memory_format=memory_format)
optimizer = torch.optim.Adam([*head.parameters(), *(backbone.parameters() if finetune else [])], lr=1e-3)

data = torchvision.datasets.ImageFolder(root, transforms.Compose([
    transforms.Resize((size, size)), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]))
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=2)

start, seen = time.perf_counter(), 0
for images, labels in loader:
    images = images.contiguous(memory_format=memory_format)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        with torch.set_grad_enabled(finetune):
            features = backbone(images)
        logits = head(features.mean((2, 3)).float())
        loss = nn.functional.cross_entropy(logits.float(), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    seen += len(labels)
print(f"pytorch {seen / (time.perf_counter() - start):.2f} img/s")
