#!/usr/bin/env bash
# Rebuilds bench/RESULTS.md: the summary (bench/SUMMARY.md) followed by every area's
# bench/<area>/RESULTS.md, headings demoted one level. Each area file names its exact command.
set -euo pipefail
cd "$(dirname "$0")"
{
  cat SUMMARY.md
  for f in */RESULTS.md; do
    echo
    sed -E 's/^(#+) /\1# /' "$f"
  done
} > RESULTS.md
