#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the test suite
# (everything but [bench]). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd build
ctest --output-on-failure -j"${TREX_TEST_JOBS:-2}" --timeout 900
