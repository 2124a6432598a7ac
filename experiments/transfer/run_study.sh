#!/usr/bin/env bash
# The transfer study, end to end, into one store: pretrain on Fashion-MNIST,
# sweep digits (3 regimes + a floor x 3 label budgets x 3 seeds), then print
# the table of experiments/transfer/README.md from the store.
#   experiments/transfer/run_study.sh [STORE=results/transfer.db]        # run, then print
#   experiments/transfer/run_study.sh --table [STORE]                     # print only
set -euo pipefail
cd "$(dirname "$0")/../.."
table_only=0
if [ "${1:-}" = "--table" ]; then table_only=1; shift; fi
STORE=${1:-results/transfer.db}
T=build/bin/trex
if [ $table_only = 0 ]; then
  if [ "$($T runs --store "$STORE" --where "name = transfer_pretrain and status = completed" --count 2>/dev/null || echo 0)" = 0 ]; then
    $T run experiments/transfer/pretrain_fashion.yaml --store "$STORE" -q --no-report
  fi
  $T sweep experiments/transfer/digits_study.yaml --store "$STORE" -q
fi
SWEEP=$($T sql "SELECT id FROM sweeps WHERE name = 'transfer_digits' ORDER BY created DESC LIMIT 1" --format csv --store "$STORE" | tail -1)
$T sql "SELECT (SELECT value FROM params WHERE run_id = r.id AND key = 'model.backbone.freeze') AS freeze,
               (SELECT value FROM params WHERE run_id = r.id AND key = 'model.backbone.weights') AS weights,
               (SELECT value FROM params WHERE run_id = r.id AND key = 'data.train_per_class') AS k,
               (SELECT value FROM params WHERE run_id = r.id AND key = 'data.sizes.test') AS test_images,
               (SELECT last FROM summaries WHERE run_id = r.id AND key = 'test_accuracy') AS acc,
               r.end_time - r.start_time AS secs
        FROM runs r WHERE r.sweep_id = '$SWEEP' AND r.status = 'completed'" --format csv --store "$STORE" |
awk -F, -v sweep="$SWEEP" 'NR > 1 {
    regime = ($2 == "" ? ($1 == 1 ? "frozen random backbone (floor)" : "from scratch") : ($1 == 1 ? "frozen pretrained + new head" : "fine-tuned pretrained"));
    per = ($3 == 0 ? "all" : $3);
    key = regime SUBSEP per; n[key]++; s[key] += $5; ss[key] += $5 * $5; t[key] += $6; tests = $4
    regimes[regime] = 1; pers[per] = 1 }
  END {
    printf "Sweep %s: test accuracy on %s held-out digits, mean ± std over seeds (n), and mean wall seconds per run.\n\n", sweep, tests
    printf "| regime | 10 per class | 50 per class | all (~315 per class) |\n|---|---|---|---|\n"
    split("frozen pretrained + new head|fine-tuned pretrained|from scratch|frozen random backbone (floor)", order, "|")
    for (i = 1; i <= 4; i++) {
      r = order[i]; printf "| %s |", r
      split("10 50 all", cols, " ")
      for (j = 1; j <= 3; j++) {
        key = r SUBSEP cols[j]
        if (n[key] == 0) { printf " — |"; continue }
        m = s[key] / n[key]; v = n[key] > 1 ? (ss[key] - n[key] * m * m) / (n[key] - 1) : 0; if (v < 0) v = 0
        printf " %.3f ± %.3f (%d), %.0f s |", m, sqrt(v), n[key], t[key] / n[key]
      }
      printf "\n"
    }
  }'
