#!/usr/bin/env bash
# Frozen ImageNet backbones on JPEGs, features computed every batch (no
# cache): one epoch of head training, trex (tools/bench/transfer.yaml) against
# PyTorch (tools/bench/transfer_peer.py), interleaved, REPS times each, for
# each model and precision. Prints the machine line, the median img/s and the
# ratios: like for like (fp32 NCHW, bf16 autocast + channels-last) and default
# against default (trex's precision: auto against PyTorch's fp32 NCHW).
# Like for like includes the allocator: the peer runs with the malloc settings
# trex-torch makes for itself (trex::keep_freed_memory), which alone make
# PyTorch's frozen ResNet-18 forward 3x faster on this pool's VMs; the default
# row runs PyTorch as it comes.
#   IMAGES=1024 REPS=3 MODELS="resnet18 resnet50 vgg16 inception_v3" THREADS=2
# trex's eager backbone (model.backbone.inference_graph: off) runs too, so the
# table shows what the inference graph buys.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGES=${IMAGES:-1024} REPS=${REPS:-3} THREADS=${THREADS:-2}
MODELS=${MODELS:-resnet18 resnet50 vgg16 inception_v3}
cmake --build build --target trex > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tools/bench/transfer_images.py "$work/images" "$IMAGES"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "bf16: $(grep -qw avx512_bf16 /proc/cpuinfo && echo avx512_bf16 || echo none), $IMAGES JPEGs, $THREADS threads"
declare -A cut=([resnet18]=layer4 [resnet50]=layer4 [vgg16]=block5_pool [inception_v3]=mixed10)
declare -A px=([resnet18]=224 [resnet50]=224 [vgg16]=224 [inception_v3]=299)
trex() {  # model precision channels_last graph
  build/bin/trex run tools/bench/transfer.yaml --store "$work/trex.db" --set data.root="$work/images" \
    --set model.backbone.type="$1" --set model.backbone.cut="${cut[$1]}" --set data.height="${px[$1]}" \
    --set data.width="${px[$1]}" --set train.precision="$2" --set train.channels_last="$3" \
    --set model.backbone.inference_graph="$4" --set train.threads="$THREADS" |
    grep -o '[0-9.]* img/s' | head -1 | cut -d' ' -f1
}
peer() {  # model precision layout [env...]
  local m=$1 precision=$2 layout=$3
  shift 3
  env "$@" /usr/bin/python3 tools/bench/transfer_peer.py "$work/images" "$m" "${px[$m]}" "$THREADS" "$precision" \
    "$layout" | awk '{print $2}'
}
same_malloc=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647)
results="$work/results"
for ((i = 1; i <= REPS; i++)); do
  for m in $MODELS; do
    for cfg in "fp32 nchw false" "bf16 cl true"; do
      set -- $cfg
      p=$(peer "$m" "$1" "$2" "${same_malloc[@]}")
      row="$m $1-$2 $(trex "$m" "$1" "$3" auto) $(trex "$m" "$1" "$3" off) $p"
      echo "rep $i: $row" && echo "$row" >> "$results"
    done
    row="$m default $(trex "$m" auto false auto) - $(peer "$m" fp32 nchw)"
    echo "rep $i: $row" && echo "$row" >> "$results"
  done
done
/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    model, config, graph, eager, peer = line.split()
    rows[(model, config)].append((graph, eager, peer))
med = lambda vals: statistics.median(float(v) for v in vals) if vals[0] != "-" else None
print(f"| model | precision | trex img/s | trex eager backbone | PyTorch img/s | trex / PyTorch | graph / eager |")
print("|---|---|---|---|---|---|---|")
for (model, config), reps in rows.items():
    g, e, p = (med([r[k] for r in reps]) for k in range(3))
    eager = f"{e:.1f}" if e else "-"
    gain = f"{g / e:.2f}" if e else "-"
    name = "default (trex auto vs PyTorch fp32 NCHW, glibc malloc)" if config == "default" else config
    print(f"| {model} | {name} | {g:.1f} | {eager} | {p:.1f} | **{g / p:.2f}** | {gain} |")
PY
