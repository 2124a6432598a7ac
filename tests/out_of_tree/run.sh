#!/usr/bin/env bash
# Installs trex from a build tree into a temp prefix, builds my_backbone against
# it with find_package(trex), and runs a spec that uses it via --plugin-path.
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$src/tests/out_of_tree" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} > "$tmp/configure.log"
cmake --build "$tmp/build" -j2 > "$tmp/build.log"
test -f "$tmp/build/trex_model_my_backbone.so"
"$tmp/prefix/bin/trex" plugins describe my_backbone --plugin-path "$tmp/build" | grep -q "an MLP built out of tree"
"$tmp/prefix/bin/trex" run "$src/tests/out_of_tree/spec.yaml" --plugin-path "$tmp/build" --store "$tmp/trex.db" -q
"$tmp/prefix/bin/trex" runs --store "$tmp/trex.db" --format csv | grep -q ",out_of_tree,completed,"
echo "out-of-tree plugin: built, described, trained"
