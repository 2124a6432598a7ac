#!/usr/bin/env bash
# Query latency over a large store (issue: sweeps and queries). Builds
# RUNS x EPOCHS x 4 metrics once (default 100,000 x 50, about 1 GB, a few
# minutes), then times the documented `trex runs --where ... --sort ... --limit`
# query REPS times, process start included, and prints the median against the
# 100 ms target, the SQL and SQLite's query plan.
#   tools/bench/query_store.sh [STORE=/tmp/trex-bench/query.db] [RUNS=100000] [EPOCHS=50]
set -euo pipefail
cd "$(dirname "$0")/../.."
STORE=${1:-/tmp/trex-bench/query.db}
RUNS=${2:-100000}
EPOCHS=${3:-50}
REPS=${REPS:-10}
cmake --build build --target trex bench_query_store -j2 >/dev/null
if [ ! -f "$STORE" ]; then
  mkdir -p "$(dirname "$STORE")"
  build/bin/bench_query_store "$STORE" "$RUNS" "$EPOCHS"
fi
WHERE="params.train.optimizer.lr < 0.01 and best.val_accuracy > 0.9"
QUERY=(build/bin/trex runs --store "$STORE" --where "$WHERE" --sort -best.val_accuracy --limit 20)
echo "store: $STORE ($(du -h "$STORE" | cut -f1)), $(build/bin/trex runs --store "$STORE" --count) runs," \
     "$(build/bin/trex runs --store "$STORE" --where "$WHERE" --count) match"
"${QUERY[@]}" >/dev/null  # warm the page cache once, as a user's second query would
times=()
for _ in $(seq "$REPS"); do
  start=$(date +%s%N)
  "${QUERY[@]}" >/dev/null
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
median_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "trex runs --where \"$WHERE\" --sort -best.val_accuracy --limit 20"
echo "  times (ms): $(printf '%s\n' "${times[@]}" | awk '{printf "%.1f ", $1/1000}')"
awk -v m="$median_us" 'BEGIN {printf "  median: %.1f ms (target < 100 ms: ratio %.2f of the budget)\n", m/1000, m/1000/100}'
echo "query plan:"
"${QUERY[@]}" --explain
