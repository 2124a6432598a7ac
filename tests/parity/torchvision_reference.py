"""What the parity tests compare against (Debian's python3-torchvision):

  torchvision_reference.py count MODEL
      prints the parameter count of torchvision.models.MODEL(num_classes=1000), without auxiliary heads
  torchvision_reference.py outputs MODEL SIZE CHANNELS OUT_DIR STAGES
      writes the model's weights (plain dict, zip format), an input batch, the logits, and the output of
      each module named in STAGES (JSON {trex cut point: torchvision module path}, from the trex plugin's
      descriptor) through forward hooks
"""
import json
import sys

import torch
import torchvision

AUX = ("inception_v3", "googlenet")  # trex leaves auxiliary classifiers out (and skips their keys on load)


def count(name):
    extra = {"aux_logits": False, "init_weights": False} if name in AUX else {}
    model = getattr(torchvision.models, name)(num_classes=1000, **extra)
    print(sum(p.numel() for p in model.parameters()))


def outputs(name, size, channels, out, stages):
    torch.manual_seed(0)
    extra = {"init_weights": True} if name in AUX else {}  # aux_logits stays: trex skips AuxLogits.* on load
    model = getattr(torchvision.models, name)(num_classes=7, **extra).eval()
    with torch.no_grad():  # non-trivial BN statistics, so eval-mode BN is exercised
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/weights.pt")
    x = torch.randn(2, channels, size, size)
    features = {}
    modules = dict(model.named_modules())
    for cut, path in stages.items():
        if path not in modules:
            sys.exit(f"{name} has no module '{path}' (the trex descriptor maps stage '{cut}' to it)")
        modules[path].register_forward_hook(lambda m, i, o, cut=cut: features.__setitem__(cut, o.detach().clone()))
    with torch.no_grad():
        logits = model(x.expand(-1, 3, -1, -1) if channels == 1 else x)
    features["logits"] = logits
    torch.save(x, f"{out}/input.pt")
    torch.save(features, f"{out}/outputs.pt")


if __name__ == "__main__":
    if sys.argv[1] == "count":
        count(sys.argv[2])
    else:
        outputs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], json.loads(sys.argv[6]))
