#!/usr/bin/env bash
# Time to solve Pendulum-v1 for seeds 1–5 (BENCH.md): one JSON line per
# seed from bench/solve_pendulum.lua plus the process's wall time from
# start to exit (training stops at the evaluation that solves it), then a
# summary line.
#   bench/solve_pendulum.sh [build-dir] [seeds...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
shift || true
seeds=("$@")
((${#seeds[@]})) || seeds=(1 2 3 4 5)
lines=()
for seed in "${seeds[@]}"; do
  start=$EPOCHREALTIME
  line="$("$build/vksac" bench/solve_pendulum.lua "$seed")"
  end=$EPOCHREALTIME
  line="${line%\}},\"process_seconds\":$(python3 -c "print(round($end - $start, 3))")}"
  echo "$line"
  lines+=("$line")
done
printf '%s\n' "${lines[@]}" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin]
solved = [r for r in rows if r["solved"]]
secs = [r["process_seconds"] for r in solved]
print(json.dumps({"bench": "solve_pendulum_summary", "seeds": len(rows), "solved": len(solved),
                  "median_steps": statistics.median([r["solved_step"] for r in solved]) if solved else None,
                  "median_seconds": round(statistics.median(secs), 2) if secs else None,
                  "max_seconds": round(max(secs), 2) if secs else None}))'
