#!/usr/bin/env bash
# ImageNet backbones on JPEGs: one epoch, trex (tools/bench/transfer.yaml)
# against PyTorch (tools/bench/transfer_peer.py), interleaved, REPS times each,
# for each model, mode and precision. Prints the machine line, the median
# img/s and the ratios: like for like (fp32 NCHW, fp32 channels-last when
# fine-tuning, bf16 autocast + channels-last) and default against default
# (trex's defaults against PyTorch's fp32 NCHW).
#   IMAGES=1024 REPS=3 MODELS="resnet18 resnet50 vgg16 inception_v3" \
#   MODES="frozen finetune" THREADS=2 EAGER=1 DEFAULT=1
# (EAGER=0 skips the eager-backbone runs, DEFAULT=0 the default-vs-default
# rows, whose PyTorch side is slow: a frozen VGG16 at 2.7 img/s. FROZEN and
# FINETUNE pick the precisions, e.g. FROZEN=fp32-nchw-false: precision-layout-
# trex's channels_last, from fp32-nchw-false fp32-cl-true bf16-cl-true.)
# frozen: the backbone frozen, its features computed every batch (no cache),
# the head trains; trex's eager backbone (model.backbone.inference_graph: off)
# runs too, so the table shows what the inference graph buys.
# finetune: the whole backbone trains (model.backbone.freeze: false).
# Like for like includes the allocator: the peer runs with the malloc settings
# trex-torch makes for itself (trex::keep_freed_memory), which alone make
# PyTorch's frozen ResNet-18 forward 3x faster on this pool's VMs; the default
# rows run PyTorch as it comes.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGES=${IMAGES:-1024} REPS=${REPS:-3} THREADS=${THREADS:-2}
MODELS=${MODELS:-resnet18 resnet50 vgg16 inception_v3}
MODES=${MODES:-frozen finetune} EAGER=${EAGER:-1} DEFAULT=${DEFAULT:-1}
source tools/bench/jpeg_folder.sh
echo "$THREADS threads"
declare -A cut=([resnet18]=layer4 [resnet50]=layer4 [vgg16]=block5_pool [inception_v3]=mixed10)
declare -A px=([resnet18]=224 [resnet50]=224 [vgg16]=224 [inception_v3]=299)
declare -A freeze=([frozen]=true [finetune]=false)
trex() {  # model mode precision channels_last graph (channels_last "" = trex's default)
  local layout=()
  [[ -n $4 ]] && layout=(--set train.channels_last="$4")
  build/bin/trex run tools/bench/transfer.yaml --store "$work/trex.db" --set data.root="$work/images" \
    --set model.backbone.type="$1" --set model.backbone.cut="${cut[$1]}" --set data.height="${px[$1]}" \
    --set data.width="${px[$1]}" --set model.backbone.freeze="${freeze[$2]}" --set train.precision="$3" \
    "${layout[@]}" --set model.backbone.inference_graph="$5" --set train.threads="$THREADS" |
    grep -o '[0-9.]* img/s' | head -1 | cut -d' ' -f1
}
peer() {  # model mode precision layout [env...]
  local m=$1 mode=$2 precision=$3 layout=$4
  shift 4
  env "$@" /usr/bin/python3 tools/bench/transfer_peer.py "$work/images" "$m" "${px[$m]}" "$THREADS" "$precision" \
    "$layout" "$mode" | awk '{print $2}'
}
FROZEN=${FROZEN:-fp32-nchw-false bf16-cl-true} FINETUNE=${FINETUNE:-fp32-nchw-false fp32-cl-true bf16-cl-true}
declare -A configs=([frozen]="$FROZEN" [finetune]="$FINETUNE")
results="$work/results"
row() { echo "rep $i: $*" && echo "$*" >> "$results"; }
for ((i = 1; i <= REPS; i++)); do
  for m in $MODELS; do
    for mode in $MODES; do
      for cfg in ${configs[$mode]}; do
        IFS=- read -r precision layout cl <<< "$cfg"
        # Who goes first alternates by rep: a trex run's first step ran up to 2x slower right after the
        # JPEG writer or another program than after a trex run (InceptionV3 fine-tuning: 19-26 s against
        # 11-13 s), so neither side may always be the one that follows the other.
        if ((i % 2)); then
          p=$(peer "$m" "$mode" "$precision" "$layout" "${same_malloc[@]}")
          t=$(trex "$m" "$mode" "$precision" "$cl" auto)
        else
          t=$(trex "$m" "$mode" "$precision" "$cl" auto)
          p=$(peer "$m" "$mode" "$precision" "$layout" "${same_malloc[@]}")
        fi
        eager=-
        if [[ $mode == frozen && $EAGER == 1 ]]; then eager=$(trex "$m" "$mode" "$precision" "$cl" off); fi
        row "$m $mode $precision-$layout $t $eager $p"
      done
      if [[ $DEFAULT == 1 ]]; then
        row "$m $mode default $(trex "$m" "$mode" auto "" auto) - $(peer "$m" "$mode" fp32 nchw)"
      fi
    done
  done
done
/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    model, mode, config, graph, eager, peer = line.split()
    rows[(model, mode, config)].append((graph, eager, peer))
med = lambda vals: statistics.median(float(v) for v in vals) if vals[0] != "-" else None
# Two ratios: of the medians, and the median of each rep's own ratio (the two
# sides of a rep ran back to back, so it pairs them on one state of the machine).
print("| model | mode | precision | trex img/s | trex eager backbone | PyTorch img/s | trex / PyTorch "
      "| per-rep ratio, median | graph / eager |")
print("|---|---|---|---|---|---|---|---|---|")
for (model, mode, config), reps in rows.items():
    g, e, p = (med([r[k] for r in reps]) for k in range(3))
    eager = f"{e:.1f}" if e else "-"
    gain = f"{g / e:.2f}" if e else "-"
    name = "default (trex's vs PyTorch fp32 NCHW, glibc malloc)" if config == "default" else config
    paired = statistics.median(float(r[0]) / float(r[2]) for r in reps)
    print(f"| {model} | {mode} | {name} | {g:.1f} | {eager} | {p:.1f} | **{g / p:.2f}** | {paired:.2f} | {gain} |")
PY
