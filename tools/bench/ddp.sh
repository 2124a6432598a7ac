#!/usr/bin/env bash
# Data-parallel training on this machine: one seed-CNN epoch on Fashion-MNIST
# (seed_cnn_epoch.yaml, LIMIT images) as 1 process x 1 thread, 1 process x 2
# threads, and 2 processes x 1 thread (--nproc 2, c10d Gloo on 127.0.0.1),
# REPS times each, interleaved. Prints the median training img/s, the ratios,
# and for --nproc 2 the collectives per step and the time training waited on
# them (what gradient buckets still needed after backward, metric gathers,
# buffer broadcasts).
# Extra args go to every trex run, e.g. --set train.bucket_mb=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-3} LIMIT=${LIMIT:-20000}
cmake --build build --target trex trex-torch > /dev/null
# What --nproc gives its workers, for all three, so only the parallelism differs.
export OMP_WAIT_POLICY=PASSIVE
extra=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {  # label, args... -> "img/s" and the data-parallel line, if any
  build/bin/trex run tools/bench/seed_cnn_epoch.yaml --no-report --store "$work/trex.db" \
    --set data.limit=$LIMIT --set train.workers=1 "${extra[@]}" "$@" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
}
declare -a one two ddp
for ((i = 0; i < REPS; i++)); do
  run --set train.threads=1; one+=("$(grep -o '[0-9.]* img/s' "$work/out" | head -1 | cut -d' ' -f1)")
  run --set train.threads=2; two+=("$(grep -o '[0-9.]* img/s' "$work/out" | head -1 | cut -d' ' -f1)")
  run --nproc 2; ddp+=("$(grep -o '[0-9.]* img/s' "$work/out" | head -1 | cut -d' ' -f1)")
  grep '^data-parallel' "$work/out" | head -1 | tee -a "$work/comm"
  echo "rep $((i + 1)): 1 proc x 1 thread ${one[-1]}  1 proc x 2 threads ${two[-1]}  2 procs x 1 thread ${ddp[-1]} img/s"
done
/usr/bin/python3 - "${one[*]}" "${two[*]}" "${ddp[*]}" <<'PY'
import statistics, sys
names = ["1 process x 1 thread", "1 process x 2 threads", "2 processes x 1 thread"]
med = [statistics.median(float(x) for x in a.split()) for a in sys.argv[1:]]
for n, m in zip(names, med):
    print(f"{n:24s} median {m:7.0f} img/s")
print(f"2 processes / 1 process x 1 thread  = {med[2] / med[0]:.2f}x")
print(f"2 processes / 1 process x 2 threads = {med[2] / med[1]:.2f}x")
PY
