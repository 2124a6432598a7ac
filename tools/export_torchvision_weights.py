#!/usr/bin/python3
"""Export a torchvision model's weights in the format trex reads: a plain dict
of tensors saved with torch.save in the zip format.

  /usr/bin/python3 tools/export_torchvision_weights.py vgg16 vgg16.pt --weights DEFAULT   # ImageNet (needs internet)
  /usr/bin/python3 tools/export_torchvision_weights.py resnet18 r18.pt --seed 0            # random init (offline)
  /usr/bin/python3 tools/export_torchvision_weights.py --resave downloaded.pth out.pt      # OrderedDict .pth -> dict

Runs with Debian's python3-torch / python3-torchvision; trex itself never runs Python.
"""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="torchvision model name (e.g. vgg16, resnet50), or the input file with --resave")
    ap.add_argument("out", help="file to write")
    ap.add_argument("--weights", default=None, help="torchvision weights enum name, e.g. DEFAULT (downloads)")
    ap.add_argument("--seed", type=int, default=0, help="seed for random initialisation")
    ap.add_argument("--num-classes", type=int, default=None, help="classifier size (random init only)")
    ap.add_argument("--resave", action="store_true", help="convert a state-dict file (OrderedDict, legacy format) to a plain dict")
    a = ap.parse_args()
    if a.resave:
        state = torch.load(a.model, map_location="cpu")
        state = state.get("state_dict", state) if isinstance(state, dict) else state.state_dict()
    else:
        torch.manual_seed(a.seed)
        kwargs = {"weights": a.weights}
        if a.num_classes:
            kwargs["num_classes"] = a.num_classes
        if a.model in ("inception_v3", "googlenet"):
            kwargs["aux_logits"] = False
            kwargs["init_weights"] = True
        state = getattr(torchvision.models, a.model)(**kwargs).state_dict()
    # dict(...), not the OrderedDict: LibTorch 1.13's pickle_load cannot read an OrderedDict.
    torch.save({k: v.contiguous() for k, v in state.items()}, a.out)
    print(f"wrote {len(state)} tensors to {a.out}")


if __name__ == "__main__":
    main()
