#!/usr/bin/env bash
# Runs bench/mlp with lavapipe's work on the queue thread (--threads -1,
# LP_NUM_THREADS=0) and with 2 worker threads (--threads 2). Extra
# arguments go to both runs, e.g. bench/run_mlp.sh --hidden 256 --depth 2.
# BUILD_DIR selects the build tree (default: build). Output: JSON lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${BUILD_DIR:-build}/bench/mlp"
if [[ ! -x "$bin" ]]; then
  echo "run_mlp.sh: $bin not found; build it first: cmake -S . -B build -DVKSAC_BENCH=ON && cmake --build build -j\"\$(nproc)\"" >&2
  exit 1
fi

# An LP_NUM_THREADS already in the environment would override --threads.
for threads in -1 2; do
  env -u LP_NUM_THREADS "$bin" --threads "$threads" "$@"
done
