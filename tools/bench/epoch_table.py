"""Summarises seed_cnn_epoch.sh's results (TSV: row, who, img/s per rep): min / median / max per
program and the ratios of medians the engine issue sets goals for."""
import collections
import statistics
import sys

GOALS = {  # (row, numerator, denominator): goal
    ("fp32", "trex run", "PyTorch-Python"): 1.3,
    ("fp32", "trex run", "hand-written loop"): 0.98,
    ("fp32", "trex run", "hand + trex kernels"): 0.98,
    ("fp32cl", "trex run", "PyTorch-Python"): 1.3,
    ("fp32cl", "trex run", "hand-written loop"): 0.98,
    ("bf16", "trex run", "PyTorch-Python"): 1.3,
    ("bf16", "trex run", "hand-written loop"): 0.98,
    ("default", "trex run", "PyTorch-Python"): None,
}


def main(path):
    runs = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            row, who, value = line.rstrip("\n").split("\t")
            runs[(row, who)].append(float(value))
    print(f"\n{'row':8s} {'program':22s} {'reps':>4s} {'min':>8s} {'median':>8s} {'max':>8s}  img/s")
    for (row, who), v in runs.items():
        print(f"{row:8s} {who:22s} {len(v):4d} {min(v):8.0f} {statistics.median(v):8.0f} {max(v):8.0f}")
    print()
    for (row, num, den), goal in GOALS.items():
        if (row, num) in runs and (row, den) in runs:
            ratio = statistics.median(runs[(row, num)]) / statistics.median(runs[(row, den)])
            target = f"(goal >= {goal})" if goal else ""
            print(f"{row:8s} {num} / {den} = {ratio:.2f} {target}")


if __name__ == "__main__":
    main(sys.argv[1])
