#!/usr/bin/env bash
# The loader alone (read, JPEG decode, resize, flip, normalise, batch; no
# model): `trex bench-loader tools/bench/transfer.yaml` against PyTorch's
# DataLoader + PIL + torchvision transforms (tools/bench/loader_peer.py), at
# equal cores (WORKERS loader processes for PyTorch; trex's train.loader LOADER:
# auto decodes inline in the THREADS intra-op threads on a CPU, threads in
# WORKERS loader threads), interleaved, REPS times each, at 224 and 299 px.
# Prints the machine line, each rep and the medians with the ratio trex / PyTorch.
#   IMAGES=2048 REPS=5 WORKERS=2 THREADS=2 LOADER=auto SIZES="224 299"
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGES=${IMAGES:-2048} REPS=${REPS:-5} WORKERS=${WORKERS:-2} THREADS=${THREADS:-2} SIZES=${SIZES:-224 299}
LOADER=${LOADER:-auto}
source tools/bench/jpeg_folder.sh
echo "trex: train.loader $LOADER, $THREADS threads ($WORKERS loader threads under threads); PyTorch: $WORKERS workers"
export "${same_malloc[@]}"  # the peer runs like for like
results="$work/results"
for ((i = 1; i <= REPS; i++)); do
  for px in $SIZES; do
    t=$(build/bin/trex bench-loader tools/bench/transfer.yaml --set data.root="$work/images" --set data.height="$px" \
      --set data.width="$px" --set data.test_fraction=0 --set train.loader="$LOADER" --set train.workers="$WORKERS" --set train.threads="$THREADS" |
      grep -o '[0-9.]* img/s' | cut -d' ' -f1)
    p=$(/usr/bin/python3 tools/bench/loader_peer.py "$work/images" "$px" "$WORKERS" | awk '{print $2}')
    echo "rep $i: $px px  trex $t  pytorch $p img/s" && echo "$px $t $p" >> "$results"
  done
done
/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    px, t, p = line.split()
    rows[px].append((float(t), float(p)))
print("| size | trex img/s | PyTorch img/s | trex / PyTorch |")
print("|---|---|---|---|")
for px, reps in rows.items():
    t, p = statistics.median(r[0] for r in reps), statistics.median(r[1] for r in reps)
    print(f"| {px} px | {t:.0f} | {p:.0f} | **{t / p:.2f}** |")
PY
