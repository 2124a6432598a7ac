#!/usr/bin/env bash
# Runs a sweep on Slurm: N array tasks, each one share (sweep_share.sbatch),
# then a job that merges the shares into STORE once all succeeded.
#   tools/slurm/submit_sweep.sh SPEC N STORE [trex sweep options...]
# Prints the array job id and the merge job id. Set TREX to the trex binary
# when it is not on PATH, and SBATCH_ARGS for site options (partition, time).
set -euo pipefail
spec=$(realpath "$1") n=$2 store=$(realpath -m "$3")
shift 3
here=$(cd "$(dirname "$0")" && pwd)
shares="$(dirname "$store")/shares-$(basename "$store" .db)-$$"
mkdir -p "$shares"
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array=0-$((n - 1)) --output="$shares/share-%a.out" \
  "$here/sweep_share.sbatch" "$spec" "$shares" "$n" "$@")
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency=afterok:"${array%%;*}" --output="$shares/merge.out" \
  "$here/merge.sbatch" "$shares" "$store")
echo "$array $merge"
