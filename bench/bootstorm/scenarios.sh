#!/usr/bin/env bash
# Every boot-storm scenario of issue 13, three runs each, Gatehouse and its peers in the same
# run (the busy-box scenario: Gatehouse only, its target is Gatehouse's). Needs root, a quiet box.
# Output: one markdown report per scenario in $OUT (default /tmp/storm), per-machine CSVs beside.
#   flock /tmp/gatehouse-bench.lock bash bench/bootstorm/scenarios.sh [scenario...]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/storm}
RUNS=${RUNS:-3}
mkdir -p "$OUT"
declare -A ARGS=(
  [n100]="--n 100"
  [n1000]="--n 1000"
  [rate250]="--n 1000 --rate 250"
  [n2500]="--n 2500"
  [loss3]="--n 1000 --loss 3"
  [busy50]="--n 1000 --busy 50 --servers gatehouse"
)
ORDER=(n100 n1000 rate250 n2500 loss3 busy50)
[ $# -gt 0 ] && ORDER=("$@")
for s in "${ORDER[@]}"; do
  [ -n "${ARGS[$s]:-}" ] || { echo "unknown scenario $s (one of ${!ARGS[*]})" >&2; exit 2; }
  echo "== $s: node --import tsx bench/bootstorm/run.ts ${ARGS[$s]} --runs $RUNS --csv $OUT/$s.csv" >&2
  # shellcheck disable=SC2086
  node --import tsx bench/bootstorm/run.ts ${ARGS[$s]} --runs "$RUNS" --csv "$OUT/$s.csv" \
    > "$OUT/$s.md" 2> "$OUT/$s.log"
  echo "   done $(date -u +%H:%M:%S)" >&2
done
