#!/usr/bin/env bash
# Formats the C++ sources with .clang-format (Debian's clang-format).
#   tools/format.sh           rewrite every tracked .cpp/.h in place
#   tools/format.sh --check   list the files that differ; exit 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang-format
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h'; git ls-files --others --exclude-standard '*.cpp' '*.h')
if [ "${1:-}" = --check ]; then
  differ=0
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    clang-format "$f" | cmp -s - "$f" || { echo "$f"; differ=1; }
  done
  exit $differ
fi
for f in "${files[@]}"; do [ -f "$f" ] && clang-format -i "$f"; done
echo "format: ${#files[@]} files"
