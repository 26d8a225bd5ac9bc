#!/usr/bin/env bash
# Builds samples/embed the way its README says, against the build installed
# into a temporary prefix and found through pkg-config, then runs a short
# game with the validation layer on: the program must exit 0, print its
# progress and final summary with updates done, and save its checkpoint.
#   tests/cli/embed_sample.sh <build dir> <source dir> <scratch dir>
# Exits 77 (skipped) when pkg-config or make is not installed.
# VKSAC_PRELOAD, when set, is preloaded into the sample only (see
# tests/CMakeLists.txt).
set -euo pipefail

build="$1"
src="$2/samples/embed"
scratch="$3"
prefix="$scratch/prefix"
for tool in pkg-config make; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is not installed: skipped"
    exit 77
  fi
done
# A prefix of its own, so that no other test's install is relied on.
rm -rf "$scratch"
mkdir -p "$scratch"
cmake --install "$build" --prefix "$prefix" >/dev/null
pc="$(find "$prefix" -name vksac.pc | head -n1)"
[[ -n "$pc" ]] || { echo "vksac.pc missing from the install"; exit 1; }

# Built in a copy, as a user would, so the source tree stays clean.
cp -r "$src" "$scratch/embed"
PKG_CONFIG_PATH="$(dirname "$pc")" make -C "$scratch/embed" CFLAGS="-O2 -Wall -Wextra -Werror"

# A bad option is a usage error (2), before any device is touched.
rc=0
LD_PRELOAD="${VKSAC_PRELOAD:-}" "$scratch/embed/embed" --frames 0 2>"$scratch/usage.txt" || rc=$?
[[ $rc -eq 2 ]] || { echo "--frames 0: exit $rc, expected 2"; exit 1; }
grep -q -- "--frames needs a valid value" "$scratch/usage.txt" || { cat "$scratch/usage.txt"; exit 1; }

# The rpath set by the Makefile finds libvksac.so in the prefix.
LD_PRELOAD="${VKSAC_PRELOAD:-}" "$scratch/embed/embed" --frames 300 --budget-ms 8 --seed 3 --validation \
  --save "$scratch/embed.safetensors" | tee "$scratch/out.txt"
grep -Eq '^frame +300 +reward/step' "$scratch/out.txt" || { echo "no progress line for frame 300"; exit 1; }
grep -Eq '^summary: frames 300, updates [1-9][0-9]*, .*reward/step trained -?[0-9.]+, random -?[0-9.]+' \
  "$scratch/out.txt" || { echo "no summary line with updates done"; exit 1; }
[[ -s "$scratch/embed.safetensors" ]] || { echo "no checkpoint saved"; exit 1; }
echo "sample_embed: ok"
