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
"""
import os
import re
import statistics
import subprocess
import sys
import time


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


# What tools/bench/fashion_mnist_fast.py hard-codes; the bench refuses to compare if fast.yaml moved on.
TWIN_RECIPE = ["blocks: [1, 1, 1]", "zero_init_residual: true", "type: sgd",
               "momentum: 0.9", "nesterov: true", "weight_decay: 1.0e-4", "norm_decay_mult: 0", "bias_decay_mult: 0",
               "pct_start: 0.4", "cycle_momentum: true", "decay: 0.99", "flip: true", "padding: 2"]


def check_twin(spec_text):
    missing = [item for item in TWIN_RECIPE if item not in spec_text]
    if missing:
        sys.exit("time_to_accuracy: experiments/fashion_mnist/fast.yaml no longer says " + ", ".join(missing) +
                 "; bring tools/bench/fashion_mnist_fast.py (and TWIN_RECIPE) in step first")


def spec_value(spec_text, key):
    """The number after `key:` on a line of fast.yaml that is not a comment, or None."""
    value = re.search(rf"^[^#\n]*\b{key}:\s*([0-9.eE+-]+)", spec_text, re.M)
    return value.group(1) if value else None


def twin_flags(spec_text):
    """fast.yaml's widths, validation split, first validated epoch, batch size, peak lr, label smoothing, TTA
    translation, random erasing and alternating flips, as the twin's flags (the rest it hard-codes and check_twin
    holds fast.yaml to)."""
    widths = re.search(r"^\s+widths:\s*\[([0-9, ]+)\]", spec_text, re.M)
    if not widths:
        sys.exit("time_to_accuracy: fast.yaml names no model.widths list for the twin to read")
    translate = re.search(r"^\s+tta:.*\btranslate:\s*(\d+)", spec_text, re.M)
    flags = ["--widths", *widths.group(1).replace(",", " ").split(),
             "--val-fraction", spec_value(spec_text, "val_fraction") or "0.1",
             "--translate", translate.group(1) if translate else "0"]
    val_begin = spec_value(spec_text, "val_begin")
    if val_begin:
        flags += ["--val-begin", val_begin]
    if re.search(r"^[^#\n]*\bval_interval:", spec_text, re.M):  # any value, even one spec_value cannot read
        sys.exit("time_to_accuracy: the twin validates every epoch from val_begin; drop fast.yaml's val_interval")
    for key, flag in (("batch_size", "--batch-size"), ("lr", "--lr"), ("label_smoothing", "--label-smoothing")):
        value = spec_value(spec_text, key)
        if not value:
            sys.exit(f"time_to_accuracy: fast.yaml names no {key} for the twin to read")
        flags += [flag, value]
    erase = re.search(r"type: random_erasing, p: ([0-9.]+), scale: \[([0-9.]+), ([0-9.]+)\], "
                      r"ratio: \[([0-9.]+), ([0-9.]+)\]", spec_text)
    if "random_erasing" in spec_text and not erase:
        sys.exit("time_to_accuracy: write fast.yaml's random_erasing as {type: random_erasing, p: P, scale: [LO, HI], "
                 "ratio: [LO, HI]} for the twin to read it")
    alternate = re.search(r"type: random_flip\b[^}]*\balternate: true", spec_text)
    return flags + (["--erase", *erase.groups()] if erase else []) + (["--alternate-flip"] if alternate else [])


def spread(values):
    return f"{statistics.mean(values):.4f} (min {min(values):.4f}, max {max(values):.4f})"


def main():
    seeds = os.environ.get("SEEDS", "42 1 2").split()
    spec_text = open("experiments/fashion_mnist/fast.yaml").read()
    check_twin(spec_text)
    spec_epochs = re.search(r"^\s+epochs:\s*(\d+)", spec_text, re.M)
    epochs, threads = os.environ.get("EPOCHS", spec_epochs.group(1)), os.environ.get("THREADS", "2")
    trex_epochs = os.environ.get("TREX_EPOCHS", epochs)
    twin = twin_flags(spec_text)
    precision = os.environ.get("PRECISION", "auto")
    store = sys.argv[1]
    flags = open("/proc/cpuinfo").read()
    bf16_native = re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) is not None
    py_precision = "bf16" if precision == "bf16" or (precision == "auto" and bf16_native) else "fp32"
    results = {"trex": [], "pytorch": []}
    for seed in seeds:
        results["trex"].append(run("trex", [
            "build/bin/trex", "run", "experiments/fashion_mnist/fast.yaml", "--store", store, "--set", f"seed={seed}",
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
