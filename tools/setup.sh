#!/usr/bin/env bash
# Installs every Debian package trex builds, tests and runs with (as root, or
# with sudo). Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake ccache pkg-config git
  libtorch-dev libdnnl-dev libopencv-dev libyaml-cpp-dev libboost-dev libboost-filesystem-dev libsqlite3-dev catch2
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev zlib1g-dev libdeflate-dev sqlite3
  libopenblas0-pthread            # LibTorch falls back to the ~20x slower reference BLAS without it
  dataset-fashion-mnist opencv-doc  # real data: Fashion-MNIST IDX files, OpenCV's digits.png
  python3-torch python3-torchvision # reference peer for tests and benchmarks (never on trex's run path)
  python3-yaml                      # the time-to-accuracy bench reads `trex validate`'s resolved spec
  gnuplot-nox fonts-dejavu-core     # report and EDA charts (pngcairo terminal)
  libcpp-httplib-dev                # trex ui's HTTP server
  chromium                          # headless browser for the dashboard test
  libgloo-dev                       # headers c10d's ProcessGroupGloo needs (trex run --nproc)
  munge slurm-wlm                   # a single-node Slurm for the cluster test (tests/slurm/)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Node.js for the dashboard's npm packages: Debian's, unless a node is already there.
if ! command -v npm >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
# uPlot (bundled into trex ui) and playwright-core (drives chromium in the test), as locked.
ui_dir="$(dirname "$0")/../framework/ui"
if ! cmp -s "$ui_dir/package-lock.json" "$ui_dir/node_modules/.trex-installed-lock" 2>/dev/null; then
  (cd "$ui_dir" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.trex-installed-lock)
fi
# OpenBLAS must be the active libblas.so.3 (update-alternatives picks it when installed).
blas=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
case "$blas" in *openblas*) ;; *) echo "setup: warning: libblas.so.3 is $blas, not OpenBLAS" >&2 ;; esac
