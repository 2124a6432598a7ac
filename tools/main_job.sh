#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job — the
# book's CNN on the real Fashion-MNIST, recorded in results/trex.db.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
build/bin/trex run experiments/fashion_mnist/seed_cnn.yaml "$@"
build/bin/trex runs
