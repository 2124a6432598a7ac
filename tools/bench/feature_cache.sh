#!/usr/bin/env bash
# Frozen-feature cache, as a real transfer run has it: frozen VGG16 at
# block5_pool with a weights file (torchvision layout, 553 MB, written here
# with random values by tools/export_torchvision_weights.py), the same
# 10-epoch run (feature_cache.yaml) three ways — uncached (the backbone runs
# every epoch), disk cache cold (computes the features in the run) and warm
# (a second run reads them). Prints each run's phase breakdown (trex run
# --verbose), wall time, fixed cost (whole run minus its epochs), peak memory
# (/usr/bin/time) and median epoch, then the per-epoch and whole-run ratios.
# SWEEP=1 adds the head sweep (feature_cache_sweep.yaml, 8 trials) with and
# without the cache. Extra args go to every trex run, e.g. --set data.limit=4000.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
cmake --build build --target trex trex-torch > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source tools/bench/machine_line.sh
machine_line
/usr/bin/python3 tools/export_torchvision_weights.py vgg16 "$work/vgg16.pt" --seed 0 > /dev/null
weights=(--set model.backbone.weights="$work/vgg16.pt")
run() {  # name mode [args] -> "wall maxrss_kb" on stdout, the phase line in $work/NAME.phases
  local name=$1 mode=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$work/$name.time" build/bin/trex run tools/bench/feature_cache.yaml -q -v \
    --store "$work/trex.db" --set train.threads=$THREADS --set train.feature_cache="$mode" "${weights[@]}" "$@" \
    | grep '^phases:' > "$work/$name.phases"
  cat "$work/$name.time"
}
for name in uncached cold warm; do
  mode=disk
  [ $name = uncached ] && mode=off
  run $name $mode "$@" > /dev/null
done
build/bin/trex sql --store "$work/trex.db" --format csv \
  "SELECT r.id, m.epoch, m.wall_seconds FROM metrics m JOIN runs r ON r.id = m.run_id
   WHERE m.split = 'train' AND m.name = 'loss' ORDER BY r.start_time, m.epoch" > "$work/epochs.csv"
/usr/bin/python3 tools/bench/feature_cache_table.py "$work"
if [ "${SWEEP:-0}" = 1 ]; then
  for mode in off disk; do
    start=$EPOCHREALTIME
    build/bin/trex sweep tools/bench/feature_cache_sweep.yaml -q --store "$work/sweep_$mode.db" \
      --set train.threads=$THREADS --set train.feature_cache=$mode "${weights[@]}" > /dev/null
    /usr/bin/python3 -c "print($EPOCHREALTIME - $start)" > "$work/sweep_$mode.wall"
  done
  /usr/bin/python3 - "$work" <<'PY'
import sys
w = {m: float(open(f"{sys.argv[1]}/sweep_{m}.wall").read()) for m in ("off", "disk")}
print(f"head sweep, 8 trials: uncached {w['off']:.1f} s, disk cache {w['disk']:.1f} s -> {w['off'] / w['disk']:.1f}x (target >= 8x)")
PY
fi
