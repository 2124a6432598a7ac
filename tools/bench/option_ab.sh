#!/usr/bin/env bash
# One trex option against another on one spec, interleaved: REPS pairs of a one-epoch `trex run` on
# IMAGES training images, A then B, each run printing its epoch line's img/s; then the median of each and
# B / A. Machines here are noisy (an epoch swings 10-20% between minutes), so only pairs run back to back
# are compared. Environment: SPEC (experiments/fashion_mnist/fast.yaml), A and B (each a space-separated
# list of key=value overrides; A's default is none), SET (overrides for both), REPS (4), IMAGES (20000:
# data.limit; 0 = all).
#   A="train.loader=inline" B="train.loader=threads" tools/bench/option_ab.sh
#   SPEC=tools/bench/transfer.yaml SET="data.root=DIR model.backbone.freeze=false train.precision=bf16" \
#     IMAGES=0 A=... B=... tools/bench/option_ab.sh   # a fine-tuned ResNet-18 at 224 px on a JPEG folder
set -euo pipefail
cd "$(dirname "$0")/../.."
spec=${SPEC:-experiments/fashion_mnist/fast.yaml} reps=${REPS:-4} images=${IMAGES:-20000}
[ -n "${B:-}" ] || { echo "option_ab: set B to the overrides to try, e.g. B=train.loader=threads" >&2; exit 2; }
cmake --build build --target trex > /dev/null
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
source tools/bench/machine_line.sh
machine_line
sets() { for kv in $1; do printf -- '--set\n%s\n' "$kv"; done; }
epoch_rate() {  # the img/s of a one-epoch run with overrides $1
  local -a extra
  mapfile -t extra < <(sets "${SET:-} $1")
  build/bin/trex run "$spec" --store "$store/ab.db" --no-report --set train.epochs=1 --set "data.limit=$images" \
    "${extra[@]}" 2>&1 | grep -E '^epoch 1/1' | grep -oE '[0-9.]+ img/s' | cut -d' ' -f1
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", x / y }'; }
a_rates=() b_rates=()
for rep in $(seq "$reps"); do
  a=$(epoch_rate "${A:-}") b=$(epoch_rate "$B")
  if [ -z "$a" ] || [ -z "$b" ]; then echo "option_ab: a run printed no epoch line" >&2; exit 1; fi
  a_rates+=("$a") b_rates+=("$b")
  echo "pair $rep: A ${A:-(spec as written)} $a img/s   B $B $b img/s   B/A $(ratio "$b" "$a")"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a_rates[@]}") mb=$(median "${b_rates[@]}")
echo "$spec, $images images, $reps pairs: median A $ma img/s, B $mb img/s, B / A $(ratio "$mb" "$ma")"
