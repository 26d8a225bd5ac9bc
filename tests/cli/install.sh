#!/usr/bin/env bash
# Installs a build into a temporary prefix and uses it the way a user
# would: the stock lua5.4 interpreter requires "vksac" (vksac/core.so and
# the pure-Lua files), pkg-config finds vksac.pc, and a C program compiles
# and runs against the installed header and library.
#   tests/cli/install.sh <build dir> <scratch dir>
# Exits 77 (skipped) when lua5.4 is not installed. VKSAC_PRELOAD, when
# set, is preloaded into lua5.4 and the C program (the ASan runtime and the
# Vulkan driver for a sanitizer build, see tests/CMakeLists.txt).
set -euo pipefail

build="$1"
prefix="$2/prefix"
if ! command -v lua5.4 >/dev/null; then
  echo "lua5.4 is not installed (apt-get install lua5.4): skipped"
  exit 77
fi
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

# The Lua directories, found rather than assumed: libdir may be lib or
# lib/<multiarch>, and VKSAC_LUA_*_DIR may be overridden.
core="$(find "$prefix" -path '*/lua/5.4/vksac/core.so' | head -n1)"
init="$(find "$prefix" -path '*/lua/5.4/vksac/init.lua' | head -n1)"
pc="$(find "$prefix" -name vksac.pc | head -n1)"
for f in "$prefix/bin/vksac" "$prefix/include/vksac.h" "$core" "$init" "$pc"; do
  [[ -n "$f" && -f "$f" ]] || { echo "missing from the install: ${f:-a file}"; exit 1; }
done
cmod="$(dirname "$(dirname "$core")")"
lmod="$(dirname "$(dirname "$init")")"
libdir="$(dirname "$(dirname "$pc")")"
echo "installed: $core, $init, $pc"

# core.so exports luaopen_vksac_core and nothing else, and does not bring
# its own Lua.
exports="$(nm -D --defined-only "$core" | awk '$2 == "T" { print $3 }')"
[[ "$exports" == "luaopen_vksac_core" ]] || { echo "core.so exports: $exports"; exit 1; }
if ldd "$core" | grep -q liblua; then
  echo "core.so links liblua"
  exit 1
fi

# Stock lua5.4, only the temporary prefix on its paths.
version="$(LD_PRELOAD="${VKSAC_PRELOAD:-}" LUA_PATH="$lmod/?.lua;$lmod/?/init.lua" LUA_CPATH="$cmod/?.so" \
  lua5.4 -e 'local v = require "vksac"; assert(type(v.version) == "string"); print(v.version)')"
echo "lua5.4: require \"vksac\" -> version $version"
LD_PRELOAD="${VKSAC_PRELOAD:-}" LUA_PATH="$lmod/?.lua;$lmod/?/init.lua" LUA_CPATH="$cmod/?.so" lua5.4 -e '
  local v = require "vksac"
  assert(package.searchpath("vksac.core", package.cpath):find("core.so", 1, true))
  assert(#v.devices() >= 1, "no device")
  assert(type(v.device().name) == "string")'

# pkg-config, and a program built with its flags.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags="$(pkg-config --cflags --libs vksac)"
echo "pkg-config --cflags --libs vksac: $flags"
[[ "$flags" == *"-I$prefix/include"* && "$flags" == *"-lvksac"* ]] || { echo "unexpected flags"; exit 1; }
[[ "$(pkg-config --modversion vksac)" == "$version" ]] || { echo "vksac.pc version differs"; exit 1; }
static="$(pkg-config --static --libs vksac)"
[[ "$static" == *"-lvulkan"* && "$static" == *"-lm"* ]] || { echo "static flags: $static"; exit 1; }
printf '#include <stdio.h>\n#include "vksac.h"\nint main(void) { puts(vksac_status_name(VKSAC_OK)); return 0; }\n' \
  >"$2/hello.c"
# shellcheck disable=SC2046
cc -o "$2/hello" "$2/hello.c" $(pkg-config --cflags --libs vksac)
LD_PRELOAD="${VKSAC_PRELOAD:-}" LD_LIBRARY_PATH="$libdir" "$2/hello"
echo "install_lua: ok"
