#!/usr/bin/env bash
# Times one seed-CNN training epoch on Fashion-MNIST three ways, interleaved,
# REPS times each, and prints min/median/max img/s and the ratios:
#   1. trex run (its own reported img/s of the training pass, start-up excluded)
#   2. a hand-written LibTorch loop over preloaded tensors (tools/bench/libtorch_loop.cpp)
#   3. PyTorch-Python with DataLoader(num_workers=2) + torchvision transforms
# All with THREADS intra-op threads, OpenBLAS, and the same malloc settings.
# Extra args go to trex run, e.g. --set train.channels_last=true.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-3} THREADS=${THREADS:-2}
ROOT=/usr/share/datasets/fashion-mnist
cmake --build build --target bench_libtorch_loop trex > /dev/null
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647  # what trex and the C++ loop set with mallopt
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
declare -a trex cpp py
for ((i = 0; i < REPS; i++)); do
  t=$(build/bin/trex run tools/bench/seed_cnn_epoch.yaml --set train.threads=$THREADS --store "$store/trex.db" "$@" |
      grep -o '[0-9.]* img/s' | head -1 | cut -d' ' -f1)
  c=$(build/bin/bench_libtorch_loop "$ROOT" "$THREADS" | awk '{print $2}')
  p=$(/usr/bin/python3 tools/bench/pytorch_peer.py "$ROOT" "$THREADS" | awk '{print $2}')
  echo "rep $((i + 1)): trex $t  libtorch $c  pytorch $p img/s"
  trex+=("$t") cpp+=("$c") py+=("$p")
done
/usr/bin/python3 - "${trex[*]}" "${cpp[*]}" "${py[*]}" <<'PY'
import statistics, sys
names = ["trex run", "hand-written LibTorch", "PyTorch-Python"]
vals = [[float(x) for x in a.split()] for a in sys.argv[1:]]
for n, v in zip(names, vals):
    print(f"{n:22s} min {min(v):7.0f}  median {statistics.median(v):7.0f}  max {max(v):7.0f} img/s")
t, c, p = (statistics.median(v) for v in vals)
print(f"trex / LibTorch loop = {t / c:.2f} (target >= 0.98)")
print(f"trex / PyTorch-Python = {t / p:.2f} (target >= 1.3)")
PY
