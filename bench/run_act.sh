#!/usr/bin/env bash
# The cost Lua adds to acting: bench/act (C API) and bench/act.lua (the
# same actor through Lua) in one run, then the overhead per batch size.
#   bench/run_act.sh [build-dir] [calls]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
calls="${2:-200}"
c="$("$build/bench/act" --calls "$calls")"
lua="$("$build/vksac" bench/act.lua "$calls")"
printf '%s\n%s\n' "$c" "$lua"
python3 - "$c" "$lua" <<'PY'
import json, sys
c = {d["n"]: d for d in map(json.loads, sys.argv[1].splitlines())}
l = {d["n"]: d for d in map(json.loads, sys.argv[2].splitlines())}
for n in sorted(c):
    a, b = c[n]["us_per_call"], l[n]["us_per_call"]
    print(json.dumps({"bench": "act_overhead", "n": n, "c_us": a, "lua_us": b,
                      "lua_extra_us": round(b - a, 2), "ratio": round(b / a, 3)}))
PY
