"""Writes what the parity tests compare against: a torchvision model's weights
(plain dict, zip format), an input batch, the logits, and the output at each
named cut point (forward hooks). Usage: torchvision_reference.py MODEL SIZE CHANNELS OUT_DIR"""
import sys

import torch
import torchvision

# trex cut point -> torchvision submodule whose output it is
VGG16 = {"block1_pool": "features.4", "block3_pool": "features.16", "block5_pool": "features.30", "features.13": "features.13",
         "block2_conv2": "features.8", "avgpool": "avgpool", "fc1": "classifier.1", "fc2": "classifier.4"}
VGG16_BN = {"block1_pool": "features.6", "block3_pool": "features.23", "block5_pool": "features.43", "block2_conv2": "features.12",
            "avgpool": "avgpool", "fc2": "classifier.4"}
VGG19 = {"block1_pool": "features.4", "block4_pool": "features.27", "block5_pool": "features.36", "block5_conv4": "features.35",
         "fc1": "classifier.1"}
RESNET = {"stem": "maxpool", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4", "avgpool": "avgpool"}
INCEPTION = {"maxpool2": "maxpool2", "Mixed_5b": "Mixed_5b", "mixed_6b": "Mixed_6b", "mixed2": "Mixed_5d", "Mixed_6a": "Mixed_6a",
             "mixed7": "Mixed_6e", "Mixed_7a": "Mixed_7a", "mixed10": "Mixed_7c", "avgpool": "avgpool"}
ALEXNET = {"pool1": "features.2", "pool2": "features.5", "conv5": "features.11", "pool5": "features.12", "avgpool": "avgpool",
           "fc6": "classifier.2", "fc7": "classifier.5"}
MOBILENET_V2 = {"stage1": "features.1", "stage2": "features.3", "stage3": "features.6", "stage4": "features.13",
                "stage5": "features.18", "features.10": "features.10"}
MOBILENET_V3_LARGE = {"stage1": "features.1", "stage2": "features.3", "stage3": "features.6", "stage4": "features.12",
                      "stage5": "features.16"}
MOBILENET_V3_SMALL = {"stage1": "features.0", "stage2": "features.1", "stage3": "features.3", "stage4": "features.8",
                      "stage5": "features.12"}
GOOGLENET = {"maxpool2": "maxpool2", "inception3b": "inception3b", "maxpool3": "maxpool3", "inception4e": "inception4e",
             "maxpool4": "maxpool4", "inception5b": "inception5b", "avgpool": "avgpool"}
CUTS = {"googlenet": GOOGLENET, "alexnet": ALEXNET, "mobilenet_v2": MOBILENET_V2, "mobilenet_v3_large": MOBILENET_V3_LARGE,
        "mobilenet_v3_small": MOBILENET_V3_SMALL, "inception_v3": INCEPTION, "vgg16": VGG16, "vgg16_bn": VGG16_BN, "vgg19": VGG19, "vgg19_bn": {"block5_pool": "features.52"},
        "resnet18": RESNET, "resnet34": RESNET, "resnet50": RESNET}


def main():
    name, size, channels, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    torch.manual_seed(0)
    extra = {"init_weights": True} if name in ("inception_v3", "googlenet") else {}  # aux_logits stays: trex skips AuxLogits.* on load
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
    for cut, path in CUTS[name].items():
        modules[path].register_forward_hook(lambda m, i, o, cut=cut: features.__setitem__(cut, o.detach().clone()))
    with torch.no_grad():
        logits = model(x.expand(-1, 3, -1, -1) if channels == 1 else x)
    features["logits"] = logits
    torch.save(x, f"{out}/input.pt")
    torch.save(features, f"{out}/outputs.pt")
    print(sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
