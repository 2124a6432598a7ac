#!/usr/bin/env bash
# Time to accuracy (issue 17): `trex run experiments/fashion_mnist/fast.yaml` against its PyTorch-Python twin
# (tools/bench/fashion_mnist_fast.py: same net, schedule, augmentation, EMA and TTA), one after the other for
# each seed on this machine. Prints the machine line, validation accuracy against wall-clock minutes, test
# accuracy and wall time per run, mean and spread over the seeds, and PyTorch's time to its final accuracy
# over trex's. Environment: SEEDS ("42 1 2"), EPOCHS (the spec's), TREX_EPOCHS (EPOCHS: trex's own budget, to time
# trex to the twin's accuracy on a shorter schedule), THREADS (2), PRECISION (auto: trex's train.precision;
# the twin gets what auto chooses here: bf16 autocast + channels_last where the CPU has avx512_bf16 or AMX).
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build --target trex > /dev/null
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647  # what trex sets with mallopt
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
source tools/bench/machine_line.sh
machine_line
/usr/bin/python3 tools/bench/time_to_accuracy.py "$store/trex.db"
