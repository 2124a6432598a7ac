"""The PyTorch-Python twin of experiments/fashion_mnist/fast.yaml, written with torch and torchvision only
(Debian's /usr/bin/python3), for tools/bench/time_to_accuracy.sh:

  fashion_mnist_fast.py [--seed S] [--epochs E] [--threads T] [--precision bf16|fp32] [--translate T]
                        [--widths W1 W2 W3] [--val-fraction F] [--erase P LO HI RLO RHI] [--alternate-flip]
                        [--batch-size B] [--lr LR] [--label-smoothing S] [--val-begin E] [--root DIR]

Same semantics as the trex recipe: a stratified validation split held out of train (10% by default); RandomCrop(28,
padding=2) + RandomHorizontalFlip + Normalize through a DataLoader; He et al.'s small-image ResNet with
fast.yaml's widths (--widths), one basic block per stage, projection shortcuts, zero-initialised last BN of
each block; batch 256 (--batch-size); SGD with Nesterov momentum, peak lr 0.8 (--lr), weight decay 1e-4 on conv/linear
weights only (not on BatchNorm or biases); OneCycleLR with pct_start 0.4 and momentum cycling, stepped per batch; label
smoothing 0.1 (--label-smoothing); an EMA of the weights and BN
statistics (decay 0.99 with the (1+n)/(10+n) warm-up); validation and test on the average with flip TTA;
the checkpoint with the best validation accuracy scores the test set once; --val-begin E validates only from
epoch E on and after the last, as trex's train.val_begin (the epochs before train only). With --val-fraction 0 the whole
train split trains on a fixed schedule and the final average scores the test set once. --erase adds
RandomErasing(p, scale, ratio, value 0) after Normalize, as trex's random_erasing. --alternate-flip flips
as random_flip's `alternate`: a fixed random coin per image in epoch 1, the other side in each next epoch
(the sampler hands each index its epoch, so it works in the DataLoader's worker processes). bf16 autocast +
channels-last where asked (trex's precision: auto picks them on CPUs with avx512_bf16).

Prints one line per epoch ("epoch E minutes M val_accuracy A") and at the end
"test_accuracy A minutes M", minutes counted from the process start (imports included).
"""
import argparse
import copy
import gzip
import os
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "parity"))
import resnet_cifar_reference as reference  # noqa: E402

MEAN, STD = 0.2860, 0.3530


def minutes():
    return (time.perf_counter() - START) / 60


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load(root, split):
    images = read_idx(f"{root}/{split}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = read_idx(f"{root}/{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return images, labels


def stratified_split(labels, fraction, seed):
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        val.extend(idx[: int(round(fraction * len(idx)))])
    mask = np.zeros(len(labels), bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


class Images(Dataset):
    """As torchvision.datasets.FashionMNIST: a PIL image per item, then the transforms."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


class EpochSampler(Sampler):
    """A shuffling sampler that yields (index, epoch): the epoch reaches the dataset in the worker processes."""

    def __init__(self, n):
        self.shuffle, self.epoch = RandomSampler(range(n)), -1

    def __len__(self):
        return len(self.shuffle)

    def __iter__(self):
        self.epoch += 1
        return ((i, self.epoch) for i in self.shuffle)


class AlternateFlips(Dataset):
    """random_flip alternate: crop, flip image i iff its epoch-0 coin differs from the epoch's parity, then the
    remaining steps (normalise, and erasing where asked)."""

    def __init__(self, images, labels, crop, rest, seed):
        self.images, self.labels, self.crop, self.rest = images, labels, crop, rest
        self.first = torch.randint(0, 2, (len(labels),), generator=torch.Generator().manual_seed(seed)).tolist()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, item):
        i, epoch = item
        x = self.crop(Image.fromarray(self.images[i], mode="L"))
        if self.first[i] != epoch % 2:
            x = TF.hflip(x)
        return self.rest(x), int(self.labels[i])


def resnet(widths):
    """trex's resnet_cifar with fast.yaml's widths and blocks: the torch.nn twin its parity tests hold it
    equal to (tests/parity/resnet_cifar_reference.py), with the plugin's initialisation."""
    model = reference.build({"widths": widths, "blocks": [1, 1, 1], "shortcut": "projection", "channels": 1,
                             "classes": 10})
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if isinstance(m, reference.Block):
            nn.init.zeros_(m.bn2.weight)  # zero_init_residual: each block starts as the identity
    return model


class Ema:
    """Exponential moving average of the parameters and BN statistics, (1+n)/(10+n) warm-up."""

    def __init__(self, model, decay):
        self.model = copy.deepcopy(model).eval()
        self.decay, self.updates = decay, 0
        self.pairs = [(a, b) for a, b in zip(self.model.state_dict().values(), model.state_dict().values())
                      if a.is_floating_point()]

    @torch.no_grad()
    def update(self):
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for avg, live in self.pairs:
            avg.mul_(d).add_(live, alpha=1 - d)


def tta_views(x, t):
    """trex's train.tta with flip and translate t: the image, its content moved t pixels up-left and
    down-right (reflection padding), then the left-right mirror of each."""
    views = [x]
    if t > 0:
        h, w = x.shape[2], x.shape[3]
        padded = nn.functional.pad(x, (t, t, t, t), mode="reflect")
        views += [padded[:, :, 2 * t:2 * t + h, 2 * t:2 * t + w], padded[:, :, :h, :w]]
    return views + [v.flip(3) for v in views]


@torch.no_grad()
def accuracy(model, loader, memory_format, bf16, translate):
    model.eval()
    correct = total = 0
    for x, y in loader:
        x = x.contiguous(memory_format=memory_format)
        views = tta_views(x, translate)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(torch.cat(views).contiguous(memory_format=memory_format)).float()  # one forward
        logits = logits.view(len(views), len(y), -1).mean(0)
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    return correct / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=18)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--translate", type=int, default=0, help="trex's train.tta.translate")
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 80, 160], help="fast.yaml's model.widths")
    ap.add_argument("--val-fraction", type=float, default=0.1, help="trex's data.val_fraction")
    ap.add_argument("--erase", type=float, nargs=5, metavar=("P", "LO", "HI", "RLO", "RHI"),
                    help="trex's random_erasing p, scale and ratio")
    ap.add_argument("--alternate-flip", action="store_true", help="random_flip's alternate: true")
    ap.add_argument("--batch-size", type=int, default=256, help="trex's train.batch_size")
    ap.add_argument("--lr", type=float, default=0.8, help="trex's train.optimizer.lr (one_cycle's peak)")
    ap.add_argument("--label-smoothing", type=float, default=0.1, help="trex's train.loss.label_smoothing")
    ap.add_argument("--val-begin", type=int, default=1, help="trex's train.val_begin")
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    bf16 = a.precision == "bf16"
    fmt = torch.channels_last if bf16 else torch.contiguous_format

    images, labels = load(a.root, "train")
    test_images, test_labels = load(a.root, "t10k")
    train_idx, val_idx = stratified_split(labels, a.val_fraction, a.seed)
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    steps = [transforms.RandomCrop(28, padding=2), transforms.RandomHorizontalFlip(), norm]
    if a.erase:
        p, lo, hi, rlo, rhi = a.erase
        steps.append(transforms.RandomErasing(p, scale=(lo, hi), ratio=(rlo, rhi), value=0))
    if a.alternate_flip:
        # steps: crop, flip, normalise[, erase]; the dataset flips by epoch in place of steps[1]
        data = AlternateFlips(images[train_idx], labels[train_idx], steps[0], transforms.Compose(steps[2:]), a.seed)
        train = DataLoader(data, batch_size=a.batch_size, sampler=EpochSampler(len(train_idx)), num_workers=2,
                           persistent_workers=True, drop_last=False)
    else:
        train = DataLoader(Images(images[train_idx], labels[train_idx], transforms.Compose(steps)),
                           batch_size=a.batch_size, shuffle=True, num_workers=2, persistent_workers=True,
                           drop_last=False)
    val = DataLoader(Images(images[val_idx], labels[val_idx], norm), batch_size=512, num_workers=1)
    test = DataLoader(Images(test_images, test_labels, norm), batch_size=512, num_workers=1)

    model = resnet(a.widths).to(memory_format=fmt)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]  # BatchNorm weights and all biases
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0}],
                          lr=a.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, epochs=a.epochs, steps_per_epoch=len(train),
                                                pct_start=0.4, cycle_momentum=True)
    ema = Ema(model, 0.99)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=a.label_smoothing)
    best, best_state = -1.0, None
    for epoch in range(1, a.epochs + 1):
        model.train()
        for x, y in train:
            x = x.contiguous(memory_format=fmt)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update()
        # a fixed schedule (the last average scores the test set), or an epoch before --val-begin: train only
        if not len(val_idx) or epoch < min(a.val_begin, a.epochs):
            print(f"epoch {epoch} minutes {minutes():.3f} train_loss {loss.item():.4f}", flush=True)
            continue
        acc = accuracy(ema.model, val, fmt, bf16, a.translate)
        if acc > best:
            best, best_state = acc, copy.deepcopy(ema.model.state_dict())
        print(f"epoch {epoch} minutes {minutes():.3f} val_accuracy {acc:.4f}", flush=True)
    if best_state is not None:
        ema.model.load_state_dict(best_state)
    print(f"test_accuracy {accuracy(ema.model, test, fmt, bf16, a.translate):.4f} minutes {minutes():.3f}", flush=True)


if __name__ == "__main__":
    main()
