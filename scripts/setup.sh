#!/usr/bin/env bash
# Sets vksac up on Debian 12 and runs it.
#
#   scripts/setup.sh        install what is missing, build build/ (Release),
#                           list the Vulkan devices, run a GEMM on the default one
#                           and load the Lua module in the vksac interpreter
#   scripts/setup.sh test   install what is missing, build build/ and run the
#                           test suite, then build build-asan/ (ASan + UBSan)
#                           and run the suite there too, then fuzz the
#                           checkpoint parser for VKSAC_FUZZ_SECONDS (60)
#
# Packages are installed only when absent, and only as root; otherwise the
# script prints the apt command to run and stops. Works from any directory.
set -euo pipefail

mode="${1:-run}"
case "$mode" in
  run | test) ;;
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/setup.sh [test]" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(cmake gcc make pkg-config libvulkan-dev mesa-vulkan-drivers glslang-tools
          spirv-tools liblua5.4-dev lua5.4 libreadline-dev libcmocka-dev vulkan-validationlayers
          gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "setup.sh: installing ${missing[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "setup.sh: missing packages: ${missing[*]}" >&2
    echo "setup.sh: install them with:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

jobs="$(nproc)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

if [[ "$mode" == run ]]; then
  build/vksac --list-devices
  build/vksac --gemm 256x512x256
  build/vksac -e 'local v = require "vksac"; print("vksac " .. v.version .. " on " .. v.device().name)'
else
  ctest --test-dir build --output-on-failure -j"$jobs"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVKSAC_SANITIZE=ON -DVKSAC_BENCH=OFF
  cmake --build build-asan -j"$jobs"
  ctest --test-dir build-asan --output-on-failure
  scripts/fuzz.sh "${VKSAC_FUZZ_SECONDS:-60}"
fi
