#!/usr/bin/env bash
# Times one training epoch on Fashion-MNIST, trex against its peers, REPS times
# each (9 by default), interleaved, and prints min/median/max img/s and the ratios:
#   trex run          its own reported img/s of the training pass (start-up excluded)
#   hand-written loop a LibTorch loop over preloaded tensors (tools/bench/libtorch_loop.cpp);
#                     "trex kernels" is the same loop with trex's dropout, so that ratio is the
#                     framework's cost alone
#   PyTorch-Python    DataLoader(num_workers=2) + torchvision transforms (tools/bench/pytorch_peer.py)
# Rows: fp32 (all in fp32 NCHW, like for like), fp32cl (all in fp32 channels-last, like for like:
# trex's fp32 as it comes, channels_last being its default), bf16 (all in bf16 autocast + channels-last, where
# the CPU runs bf16 natively) and default (trex as it comes against PyTorch as it comes: fp32 NCHW,
# glibc's malloc). The like-for-like rows give the peers trex's malloc settings.
#   MODEL=seed_cnn (default) | resnet (tools/bench/resnet_epoch.yaml: fast.yaml's first ResNet, 32/64/128)
#   REPS=9 THREADS=2 IMAGES=0 (0: all 60,000)  ROWS="fp32 fp32cl bf16 default"
# Extra args go to every trex run, e.g. --set train.workers=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-9} THREADS=${THREADS:-2} IMAGES=${IMAGES:-0} MODEL=${MODEL:-seed_cnn}
ROWS=${ROWS:-fp32 fp32cl bf16 default}
ROOT=/usr/share/datasets/fashion-mnist
source tools/bench/machine_line.sh
case $MODEL in
  seed_cnn) spec=tools/bench/seed_cnn_epoch.yaml ;;
  resnet) spec=tools/bench/resnet_epoch.yaml ;;
  *) echo "MODEL must be seed_cnn or resnet, got '$MODEL'" >&2 && exit 2 ;;
esac
native_bf16=$(grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && echo 1 || echo 0)
if [[ $native_bf16 == 0 && $ROWS == *bf16* ]]; then
  echo "no native bf16 on this CPU: the bf16 row is left out (autocast there runs ~10x slower)"
  ROWS=${ROWS//bf16/}
fi
cmake --build build --target bench_libtorch_loop trex > /dev/null
machine_line "model $MODEL, $THREADS threads, images ${IMAGES/#0/all}"
same_malloc=(env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647)  # what trex and the C++ loop set with mallopt
store=$(mktemp -d)
results=$store/results.tsv
trap 'rm -rf "$store"' EXIT

trex() {  # trex run's img/s; $@: --set options
  build/bin/trex run "$spec" --set train.threads="$THREADS" --set data.limit="$IMAGES" \
    --store "$store/trex.db" "$@" "${EXTRA[@]}" | grep -o '[0-9.]* img/s' | head -1 | cut -d' ' -f1
}
hand() { "${same_malloc[@]}" build/bin/bench_libtorch_loop "$ROOT" "$THREADS" --model "$MODEL" --images "$IMAGES" "$@" | awk '{print $2}'; }
peer() {  # $1: same (trex's malloc settings) or glibc; the rest go to pytorch_peer.py
  local env=()
  [[ $1 == same ]] && env=("${same_malloc[@]}")
  shift
  "${env[@]}" /usr/bin/python3 tools/bench/pytorch_peer.py "$ROOT" "$THREADS" --model "$MODEL" --images "$IMAGES" "$@" |
    awk '{print $2}'
}
record() {  # row, program, img/s; a run that printed no number stops the benchmark
  [[ -n $3 ]] || { echo "$1 $2: no img/s (the run failed)" >&2 && exit 1; }
  echo -e "$1\t$2\t$3" >> "$results" && printf '  %-8s %-22s %8s img/s\n' "$1" "$2" "$3"
}

EXTRA=("$@")
for ((i = 1; i <= REPS; i++)); do
  echo "rep $i"
  for row in $ROWS; do
    case $row in
      fp32)
        record fp32 "trex run" "$(trex --set train.precision=fp32 --set train.channels_last=false)"
        record fp32 "hand-written loop" "$(hand)"
        [[ $MODEL == seed_cnn ]] && record fp32 "hand + trex kernels" "$(hand --trex-kernels)"
        record fp32 "PyTorch-Python" "$(peer same)"
        ;;
      fp32cl)
        record fp32cl "trex run" "$(trex --set train.precision=fp32 --set train.channels_last=true)"
        record fp32cl "hand-written loop" "$(hand --channels-last)"
        record fp32cl "PyTorch-Python" "$(peer same --channels-last)"
        ;;
      bf16)
        record bf16 "trex run" "$(trex --set train.precision=bf16 --set train.channels_last=true)"
        record bf16 "hand-written loop" "$(hand --bf16)"
        record bf16 "PyTorch-Python" "$(peer same --bf16)"
        ;;
      default)
        record default "trex run" "$(trex)"
        record default "PyTorch-Python" "$(peer glibc)"
        ;;
    esac
  done
done
/usr/bin/python3 tools/bench/epoch_table.py "$results"
