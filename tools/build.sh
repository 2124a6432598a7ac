#!/usr/bin/env bash
# Configures and builds trex into build/ (ccache when present, -j2 fits 2 cores in memory).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${TREX_JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j"$jobs" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "build: ok (build/bin/trex, plugins in build/plugins)"
