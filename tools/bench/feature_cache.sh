#!/usr/bin/env bash
# Frozen-feature cache: the same 10-epoch frozen-VGG16 run (feature_cache.yaml)
# three ways — uncached (the frozen backbone runs every epoch, under
# NoGradGuard), disk cache cold (computes the features once, in the run), and
# disk cache warm (a second run reads them) — and prints each run's wall time,
# the median epoch time (epochs 2..N, train + val) and the ratios.
# Extra args go to every trex run, e.g. --set data.limit=4000.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
cmake --build build --target trex trex-torch > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {  # mode -> wall seconds; the run lands in $work/trex.db
  local start=$EPOCHREALTIME
  build/bin/trex run tools/bench/feature_cache.yaml -q --store "$work/trex.db" --set train.threads=$THREADS \
    --set train.feature_cache="$1" "${@:2}"
  /usr/bin/python3 -c "print($EPOCHREALTIME - $start)"
}
uncached=$(run off "$@")
cold=$(run disk "$@")
warm=$(run disk "$@")
build/bin/trex sql --store "$work/trex.db" --format csv \
  "SELECT r.id, m.epoch, m.wall_seconds FROM metrics m JOIN runs r ON r.id = m.run_id
   WHERE m.split = 'train' AND m.name = 'loss' ORDER BY r.start_time, m.epoch" > "$work/epochs.csv"
/usr/bin/python3 - "$work/epochs.csv" "$uncached" "$cold" "$warm" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
runs = list(dict.fromkeys(r["id"] for r in rows))
names = ["uncached", "cache cold", "cache warm"]
epoch = {}
for name, run, wall in zip(names, runs, sys.argv[2:]):
    e = [float(r["wall_seconds"]) for r in rows if r["id"] == run]
    epoch[name] = statistics.median(e[1:])
    print(f"{name:11s} whole run {float(wall):7.2f} s   epoch 1 {e[0]:7.3f} s   median epoch 2..{len(e)} {epoch[name]:7.3f} s")
print(f"per epoch: uncached / warm cache = {epoch['uncached'] / epoch['cache warm']:.0f}x (target >= 10x)")
w = [float(x) for x in sys.argv[2:]]
print(f"whole run: uncached / cold cache = {w[0] / w[1]:.1f}x, uncached / warm cache = {w[0] / w[2]:.1f}x")
PY
