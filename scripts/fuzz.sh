#!/usr/bin/env bash
# Fuzzes the safetensors checkpoint parser (src/rl/safetensors*.c) with
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [SECONDS]   build build-fuzz/ with clang and fuzz for
#                               SECONDS (default 60)
#
# clang (and its libFuzzer runtime) is installed when missing, and only as
# root; otherwise the script prints the apt command to run and stops.
# Seeds come from build-fuzz/tests/fuzz/fuzz_safetensors_seeds; inputs that
# add coverage accumulate in build-fuzz/corpus/. Exits non-zero on a crash,
# leak, timeout or UB report, leaving the input in build-fuzz/artifacts/.
# Works from any directory.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

install() {
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "fuzz.sh: installing $*" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  else
    echo "fuzz.sh: missing packages: $*" >&2
    echo "fuzz.sh: install them with:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*" >&2
    exit 1
  fi
}

# Whether clang can link a libFuzzer target (Debian ships the runtime in
# libclang-rt-N-dev, which clang only recommends).
fuzzer_links() {
  local dir ok=1
  dir="$(mktemp -d)"
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$dir/t.c"
  clang -fsanitize=fuzzer,address,undefined "$dir/t.c" -o "$dir/t" >/dev/null 2>&1 || ok=0
  rm -rf "$dir"
  ((ok))
}

command -v clang >/dev/null || install clang
if ! fuzzer_links; then
  major="$(clang -dumpversion | cut -d. -f1)"
  install "libclang-rt-${major}-dev"
  fuzzer_links || { echo "fuzz.sh: clang cannot link -fsanitize=fuzzer programs" >&2; exit 1; }
fi

cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVKSAC_FUZZ=ON -DVKSAC_TESTS=OFF -DVKSAC_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_safetensors fuzz_safetensors_seeds

out=build-fuzz
bin="$out/tests/fuzz"
rm -rf "$out/seeds"
mkdir -p "$out/seeds" "$out/corpus" "$out/artifacts"
"$bin/fuzz_safetensors_seeds" "$out/seeds"

echo "fuzz.sh: fuzzing the safetensors parser for ${seconds}s" >&2
status=0
"$bin/fuzz_safetensors" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict=tests/fuzz/safetensors.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
  "$out/corpus" "$out/seeds" 2>"$out/fuzz.log" || status=$?
grep -aE '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$out/fuzz.log" >&2 || true
if ((status != 0)); then
  tail -n 60 "$out/fuzz.log" >&2
  echo "fuzz.sh: FAILED (exit $status); full log in $out/fuzz.log, input in $out/artifacts/" >&2
  exit "$status"
fi
echo "fuzz.sh: no crash in ${seconds}s; corpus $(ls "$out/corpus" | wc -l) inputs" >&2
