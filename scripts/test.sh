#!/usr/bin/env bash
# `npm test`: installs what the tests need, typechecks, lints, runs every tap test file, and
# ends with the line `N passed, N failed` (tap's own summary is not a line CI reads).
# Extra arguments are passed to tap (e.g. `npm test -- test/dns`).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bash scripts/ensure-node-deps.sh
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step() { # name, command...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}
step "typecheck (tsc --noEmit)" npx tsc -p tsconfig.json --noEmit
step "build (tsc)" npm run -s build
step "lint (biome)" npx biome lint src test bench scripts

npx tap --reporter=tap "$@" 2>&1 | tee "$log"
summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
if [ -z "$summary" ]; then
  echo "test.sh: tap printed no summary (it crashed?)" >&2
  failed=$((failed + 1))
else
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); p=${p:-0}
  f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary"); f=${f:-0}
  s=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary"); s=${s:-0}
  passed=$((passed + p))
  failed=$((failed + f))
fi
if [ "${s:-0}" != "0" ]; then
  echo "${passed} passed, ${failed} failed, ${s} skipped"
else
  echo "${passed} passed, ${failed} failed"
fi
[ "$failed" -eq 0 ]
