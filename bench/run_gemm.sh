#!/usr/bin/env bash
# Runs bench/gemm (forward GEMM + dispatch costs) with lavapipe's work on the
# queue thread (--threads -1, i.e. LP_NUM_THREADS=0) and with 2 worker
# threads (--threads 2), so the default threading can be chosen from the
# numbers. Extra arguments go to both runs, and a later --form wins, e.g.
#   bench/run_gemm.sh --variant tiled --quick
#   bench/run_gemm.sh --form all
# BUILD_DIR selects the build tree (default: build). Output: JSON lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${BUILD_DIR:-build}/bench/gemm"
if [[ ! -x "$bin" ]]; then
  echo "run_gemm.sh: $bin not found; build it first: cmake -S . -B build -DVKSAC_BENCH=ON && cmake --build build -j\"\$(nproc)\"" >&2
  exit 1
fi

# An LP_NUM_THREADS already in the environment would override --threads.
for threads in -1 2; do
  env -u LP_NUM_THREADS "$bin" --threads "$threads" --form forward "$@"
done
