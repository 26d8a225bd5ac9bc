#!/usr/bin/env bash
# Runs one benchmark (gemm, mlp) with lavapipe's work on the queue thread
# (--threads -1, i.e. LP_NUM_THREADS=0) and with 2 worker threads
# (--threads 2), so the default threading can be chosen from the numbers.
# Extra arguments go to both runs, e.g.
#   bench/run_threads.sh mlp --hidden 256 --depth 2
# BUILD_DIR selects the build tree (default: build). Output: JSON lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

name="${1:?usage: bench/run_threads.sh gemm|mlp [ARGS...]}"
shift
bin="${BUILD_DIR:-build}/bench/$name"
if [[ ! -x "$bin" ]]; then
  echo "run_threads.sh: $bin not found; build it first: cmake -S . -B build -DVKSAC_BENCH=ON && cmake --build build -j\"\$(nproc)\"" >&2
  exit 1
fi

# An LP_NUM_THREADS already in the environment would override --threads.
for threads in -1 2; do
  env -u LP_NUM_THREADS "$bin" --threads "$threads" "$@"
done
