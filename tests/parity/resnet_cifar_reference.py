"""The torch.nn twin of trex's resnet_cifar plugin (He et al. 2016, section 4.2), written from the paper
with torch.nn only, for the parity tests (Debian's python3-torch):

  resnet_cifar_reference.py count CONFIG
      prints the parameter count
  resnet_cifar_reference.py outputs CONFIG SIZE OUT_DIR
      writes the weights (plain dict, zip format), an input batch, and the output of the stem, each
      stage, the pooled features and the logits

CONFIG is JSON: {"widths": [...], "blocks": [...], "shortcut": "pad" | "projection", "channels": C, "classes": K}.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride, projection):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.cout = stride, cout
        self.downsample = None
        if projection and (stride != 1 or cin != cout):
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def shortcut(self, x):
        if self.downsample is not None:
            return self.downsample(x)
        s = x if self.stride == 1 else x[:, :, ::self.stride, ::self.stride]  # x[:, :, ::1, ::1] would cost
        # a zero-filled gradient and a copy in backward (slice_backward)
        extra = self.cout - s.shape[1]
        return F.pad(s, (0, 0, 0, 0, extra // 2, extra - extra // 2)) if extra else s

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, widths, blocks, shortcut, channels, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        self.stages = []
        for s, (width, count) in enumerate(zip(widths, blocks)):
            layer = nn.Sequential(*[Block(cin if b == 0 else width, width, 2 if b == 0 and s > 0 else 1,
                                          shortcut == "projection") for b in range(count)])
            setattr(self, f"layer{s + 1}", layer)
            self.stages.append(f"layer{s + 1}")
            cin = width
        self.fc = nn.Linear(cin, classes)

    def forward(self, x, outputs=None):
        x = F.relu(self.bn1(self.conv1(x)))
        outputs = {} if outputs is None else outputs
        outputs["stem"] = x
        for name in self.stages:
            x = getattr(self, name)(x)
            outputs[name] = x
        x = F.adaptive_avg_pool2d(x, 1)
        outputs["avgpool"] = x
        return self.fc(x.flatten(1))


def build(config):
    return ResNetCifar(config["widths"], config["blocks"], config["shortcut"], config["channels"], config["classes"])


def outputs(config, size, out):
    torch.manual_seed(0)
    model = build(config).eval()
    with torch.no_grad():  # non-trivial BN statistics, so eval-mode BN is exercised
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/weights.pt")
    x = torch.randn(2, config["channels"], size, size)
    features = {}
    with torch.no_grad():
        features["logits"] = model(x, features)
    torch.save(x, f"{out}/input.pt")
    torch.save(features, f"{out}/outputs.pt")


if __name__ == "__main__":
    config = json.loads(sys.argv[2])
    if sys.argv[1] == "count":
        print(sum(p.numel() for p in build(config).parameters()))
    else:
        outputs(config, int(sys.argv[3]), sys.argv[4])
