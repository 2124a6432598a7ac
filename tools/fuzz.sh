#!/usr/bin/env bash
# Fuzzes trex's parsers with libFuzzer under ASan + UBSan, in build-fuzz/.
#   tools/fuzz.sh                 every target, 60 s each
#   tools/fuzz.sh pickle 600      one target, 10 minutes
#   JOBS=2 tools/fuzz.sh all 600  two targets at a time
# Starts from tests/fuzz/corpus/<target>/ and grows build-fuzz/corpus/<target>/;
# a crash or oracle violation lands in build-fuzz/crashes/<target>/: fix it,
# then copy the input into tests/fuzz/regressions/<target>/ so CI replays it
# (tests/test_fuzz_replay.cpp, through the ordinary build). Needs clang and
# libclang-rt-14-dev (installed here if missing) and the ordinary build's
# plugins for the spec target (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-60}
jobs=${JOBS:-1}
targets=(pickle weights yaml spec sweep query dashboard idx cifar image_folder)
[ "$target" = all ] || targets=("$target")

tools/setup.sh
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
  }
done
[ -d build/plugins ] || tools/build.sh

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTREX_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-fuzz.log 2>&1 ||
  { cat build-fuzz.log; exit 1; }
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >>build-fuzz.log 2>&1 ||
  { tail -40 build-fuzz.log; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_odr_violation=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TREX_FUZZ_PLUGINS=$PWD/build/plugins
mkdir -p build-fuzz/logs
summary=build-fuzz/summary.tsv
[ -f "$summary" ] || printf 'target\tseconds\texecutions\texec/s\tcoverage\tfeatures\tcorpus\tcrashes\n' >"$summary"

fuzz_one() {
  local t=$1 log=build-fuzz/logs/$1.log
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  build-fuzz/bin/fuzz_"$t" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$t/" >"$log" 2>&1 || true
  local execs cov ft corpus crashes
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  corpus=$(find "build-fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "build-fuzz/crashes/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seconds" "$execs" "$((execs / seconds))" "$cov" "$ft" "$corpus" "$crashes" |
    tee -a "$summary"
}

running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
found=$(find build-fuzz/crashes -type f | wc -l)
echo "fuzz: logs in build-fuzz/logs, summary in $summary; $found input(s) in build-fuzz/crashes"
[ "$found" -eq 0 ]
