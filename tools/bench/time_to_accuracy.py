"""Driver of tools/bench/time_to_accuracy.sh: runs `trex run experiments/fashion_mnist/fast.yaml` and its
PyTorch-Python twin (tools/bench/fashion_mnist_fast.py) one after the other for each seed, stamps every
line they print with the wall-clock minutes since that process started, and prints validation accuracy
against minutes per epoch, each run's test accuracy and wall time, the mean and spread over seeds and the
ratio the issue asks for.

The test set is scored once per run (on the checkpoint the validation split chose), so there is no test
curve to read a crossing off. The ratio is therefore PyTorch's mean wall time to its mean final test
accuracy over trex's mean wall time to its own, and it counts only when trex's mean accuracy is at least
PyTorch's: then trex reached PyTorch's final accuracy no later than its own end. TREX_EPOCHS runs trex on a
shorter (or longer) one-cycle schedule than the twin's EPOCHS: trex's time to the twin's accuracy measured
as its own run at that budget, and printed as such.

fast.yaml is read as trex resolves it (`trex validate`: bases merged, defaults filled), and the bench refuses
to run where it differs from what the twin hard-codes. `time_to_accuracy.py --check SPEC` prints the twin's
flags for SPEC, or that refusal, and runs nothing (the tests call it). TREX names the trex binary
(build/bin/trex).
"""
import os
import re
import statistics
import subprocess
import sys
import time

import yaml


def run(name, cmd):
    """Runs cmd, echoing its epoch and test lines stamped with minutes; returns (test_accuracy, minutes)."""
    print(f"\n$ {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    test = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        for line in p.stdout:
            line = line.rstrip().split("\r")[-1]  # trex's progress bar redraws with \r
            m = (time.perf_counter() - start) / 60
            tst = re.search(r"\btest_accuracy (\d\.\d+)", line)
            if re.match(r"epoch \d", line):
                print(f"  {name:7s} {m:6.2f} min  {line}", flush=True)
            elif tst:
                test = float(tst.group(1))
                print(f"  {name:7s} {m:6.2f} min  {line}", flush=True)
            elif line.startswith("precision:") or line.startswith("run "):
                print(f"  {name:7s} {line}", flush=True)
    total = (time.perf_counter() - start) / 60
    if p.returncode != 0 or test is None:
        sys.exit(f"time_to_accuracy: {name} failed (exit {p.returncode}, test accuracy {test})")
    print(f"  {name:7s} test accuracy {test:.4f} after {total:.2f} min (start-up and test included)", flush=True)
    return test, total


SPEC = "experiments/fashion_mnist/fast.yaml"
TREX = os.environ.get("TREX", "build/bin/trex")

# What tools/bench/fashion_mnist_fast.py hard-codes, as keys of the resolved spec; the bench refuses to compare if
# fast.yaml moved on. Numbers compare as numbers (trex validate writes 1e4 as "1e+04", a string to YAML 1.1).
TWIN_RECIPE = {
    "data.type": "fashion_mnist", "data.limit": 0, "data.per_class_limit": 0, "data.train_per_class": 0,
    "data.test_fraction": 0, "data.val_mode": "stratified", "model.type": "resnet_cifar", "model.blocks": [1, 1, 1],
    "model.shortcut": "projection", "model.zero_init_residual": True, "model.weights": "", "train.grad_clip": 0,
    "train.accumulate": 1, "train.val_interval": 1, "train.early_stopping": False, "train.optimizer.type": "sgd",
    "train.optimizer.momentum": 0.9, "train.optimizer.nesterov": True, "train.optimizer.weight_decay": 1e-4,
    "train.optimizer.norm_decay_mult": 0, "train.optimizer.bias_decay_mult": 0, "train.schedule.type": "one_cycle",
    "train.schedule.warmup_epochs": 0, "train.schedule.pct_start": 0.4, "train.schedule.div_factor": 25,
    "train.schedule.final_div_factor": 1e4, "train.schedule.cycle_momentum": True,
    "train.schedule.base_momentum": 0.85, "train.schedule.max_momentum": 0.95, "train.loss.class_weights": "none",
    "train.ema.decay": 0.99, "train.ema.warmup": True, "train.tta.flip": True, "train.mixup.mixup_alpha": 0,
    "train.mixup.cutmix_alpha": 0,
}
# The twin's augmentation: RandomCrop(28, padding=2) + RandomHorizontalFlip + Normalize, RandomErasing optional.
CROP = {"type": "random_crop", "height": 0, "width": 0, "padding": 2, "padding_mode": "constant", "fill": 0, "p": 1}
FLIP = {"type": "random_flip", "horizontal": True, "vertical": False, "p": 1}
NORMALIZE = {"type": "normalize", "mean": [0.2860], "std": [0.3530], "p": 1}
ERASE = {"type": "random_erasing", "value": 0, "random": False}


def resolved_spec(spec_path):
    """The spec as trex trains it: `trex validate` merges its bases and fills every default, so the checks and the
    twin's flags read the values trex uses, however the YAML is written (flow or block style, comments, defaults)."""
    p = subprocess.run([TREX, "validate", spec_path], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"time_to_accuracy: `trex validate {spec_path}` failed:\n{p.stdout}{p.stderr}")
    return yaml.safe_load(p.stdout)


def same(actual, expected):
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(expected, (int, float)):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    return actual == expected


def lookup(spec, key):
    node = spec
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def differences(actual, expected, where):
    """'where.key: actual (the twin has expected)' for each key of expected that actual does not match."""
    return [f"{where}{key}: {lookup(actual, key)!r} (the twin has {value!r})"
            for key, value in expected.items() if not same(lookup(actual, key), value)]


def check_twin(spec, spec_path):
    wrong = differences(spec, TWIN_RECIPE, "")
    train, evaluate = spec["augment"]["train"], spec["augment"]["eval"]
    if len(train) not in (3, 4) or (len(train) == 4 and train[3].get("type") != "random_erasing"):
        wrong.append("augment.train: the twin has random_crop, random_flip, normalize[, random_erasing], not " +
                     ", ".join(str(step.get("type")) for step in train))
    else:
        for i, expected in enumerate([CROP, FLIP, NORMALIZE, ERASE][:len(train)]):
            wrong += differences(train[i], expected, f"augment.train[{i}].")
    if len(evaluate) != 1:
        wrong.append(f"augment.eval: the twin has normalize alone, not {len(evaluate)} steps")
    else:
        wrong += differences(evaluate[0], NORMALIZE, "augment.eval[0].")
    # The twin's checkpoint: the best validation accuracy, or the last average on a fixed schedule.
    monitor = "val_accuracy" if float(spec["data"]["val_fraction"]) > 0 else "train_loss"
    wrong += differences(spec, {"train.checkpoint.monitor": monitor}, "")
    if wrong:
        sys.exit(f"time_to_accuracy: {spec_path} differs from what tools/bench/fashion_mnist_fast.py hard-codes: " +
                 "; ".join(wrong) + ". Bring the twin (and TWIN_RECIPE) in step first")


def twin_flags(spec):
    """fast.yaml's widths, validation split, first validated epoch, batch size, peak lr, label smoothing, TTA
    translation, random erasing and alternating flips, as the twin's flags (the rest it hard-codes and check_twin
    holds fast.yaml to)."""
    train = spec["train"]
    flags = ["--widths", *map(str, spec["model"]["widths"]), "--val-fraction", str(spec["data"]["val_fraction"]),
             "--translate", str(train["tta"]["translate"]), "--val-begin", str(train["val_begin"]),
             "--batch-size", str(train["batch_size"]), "--lr", str(train["optimizer"]["lr"]),
             "--label-smoothing", str(train["loss"]["label_smoothing"])]
    steps = spec["augment"]["train"]
    if len(steps) == 4:
        erase = steps[3]
        flags += ["--erase", str(erase["p"]), *map(str, erase["scale"]), *map(str, erase["ratio"])]
    return flags + (["--alternate-flip"] if steps[1]["alternate"] else [])


def spread(values):
    return f"{statistics.mean(values):.4f} (min {min(values):.4f}, max {max(values):.4f})"


def main():
    seeds = os.environ.get("SEEDS", "42 1 2").split()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":  # what the tests call: the twin's flags, or the refusal
        spec = resolved_spec(sys.argv[2])
        check_twin(spec, sys.argv[2])
        print(" ".join(twin_flags(spec)))
        return
    spec = resolved_spec(SPEC)
    check_twin(spec, SPEC)
    epochs, threads = os.environ.get("EPOCHS", str(spec["train"]["epochs"])), os.environ.get("THREADS", "2")
    trex_epochs = os.environ.get("TREX_EPOCHS", epochs)
    twin = twin_flags(spec)
    precision = os.environ.get("PRECISION", "auto")
    store = sys.argv[1]
    flags = open("/proc/cpuinfo").read()
    bf16_native = re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None
    py_precision = "bf16" if precision == "bf16" or (precision == "auto" and bf16_native) else "fp32"
    results = {"trex": [], "pytorch": []}
    for seed in seeds:
        results["trex"].append(run("trex", [
            TREX, "run", SPEC, "--store", store, "--set", f"seed={seed}",
            "--set", f"train.epochs={trex_epochs}", "--set", f"train.threads={threads}", "--set",
            f"train.precision={precision}"]))
        results["pytorch"].append(run("pytorch", [
            "/usr/bin/python3", "tools/bench/fashion_mnist_fast.py", "--seed", seed, "--epochs", epochs, "--threads",
            threads, "--precision", py_precision, *twin]))
    budget = f"{epochs} epochs" if trex_epochs == epochs else f"trex {trex_epochs} epochs, PyTorch {epochs}"
    print(f"\n{len(seeds)} seeds ({' '.join(seeds)}), {budget}, {threads} threads; PyTorch in {py_precision}")
    means = {}
    for name, rs in results.items():
        accs, mins = [r[0] for r in rs], [r[1] for r in rs]
        means[name] = (statistics.mean(accs), statistics.mean(mins))
        print(f"{name:8s} test accuracy {spread(accs)}   wall minutes {statistics.mean(mins):.2f} "
              f"(min {min(mins):.2f}, max {max(mins):.2f})")
    (t_acc, t_min), (p_acc, p_min) = means["trex"], means["pytorch"]
    if t_acc >= p_acc:
        print(f"trex reached PyTorch's final accuracy ({p_acc:.4f}) by its end ({budget}): trex / PyTorch wall time = "
              f"{t_min / p_min:.2f} (target <= 0.75)")
    else:
        print(f"trex's mean accuracy {t_acc:.4f} is below PyTorch's {p_acc:.4f}: no time-to-accuracy ratio; "
              f"wall-time ratio ({budget}) {t_min / p_min:.2f}")


if __name__ == "__main__":
    main()
