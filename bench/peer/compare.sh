#!/usr/bin/env bash
# Runs vksac's update benchmark (build/bench/update CONFIG) and the PyTorch
# peer (bench/peer/sac_update.py) for each configuration, one after the
# other on this machine, then prints a table of updates/s, the ratio
# vksac/peer and both GFLOP/s. See bench/peer/README.md.
#
#   bench/peer/compare.sh [CONFIG...] [--seconds S] [--threads N[,N...]]
#
# CONFIG: small pendulum cheetah hybrid bro (default: all). --threads is the
# peer's torch/OpenBLAS thread count (default 2, as BENCH.md; "1,2" runs
# both). --seconds is the peer's timing time per config (default 5).
# Environment: BUILD_DIR (default build), UPDATE_ARGS (extra arguments for
# bench/update, e.g. "--threads 2"), PYTHON (an interpreter with torch).
# Raw JSON lines go to stdout as they come, then the table. Exits 0.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

configs=()
seconds=5
threads=2
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:?--seconds wants a value}"; shift 2 ;;
    --threads) threads="${2:?--threads wants a value}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) configs+=("$1"); shift ;;
  esac
done
((${#configs[@]})) || configs=(small pendulum cheetah hybrid bro)

# Any python3 parses JSON; the peer needs one that imports torch (Debian's
# python3-torch lives in /usr/bin/python3, which pyenv & co. may shadow).
parser="$(command -v python3 || echo /usr/bin/python3)"
peer_py=""
for py in ${PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then
    peer_py="$(command -v "$py")"; break
  fi
done
if [[ -z "$peer_py" ]]; then
  echo "compare.sh: no python3 here imports torch; the PyTorch peer is skipped." >&2
  echo "  Install it with: apt-get install python3-torch libopenblas0-pthread" >&2
fi

bin="${BUILD_DIR:-build}/bench/update"
if [[ ! -x "$bin" ]]; then
  echo "compare.sh: $bin not found (vksac's update benchmark is not built);" >&2
  echo "  build it with: cmake -S . -B build -DVKSAC_BENCH=ON && cmake --build build -j\"\$(nproc)\"" >&2
  echo "  Running the peer alone." >&2
  bin=""
fi

results="$(mktemp)"
trap 'rm -f "$results"' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$peer_py" ]]; then
  # The ceiling once per thread count, before the configs.
  IFS=',' read -r -a tlist <<<"$threads"
  for t in "${tlist[@]}"; do
    "$peer_py" bench/peer/sac_update.py --threads "$t" --seconds 0 --sgemm-only | tee -a "$results"
  done
fi
for c in "${configs[@]}"; do
  if [[ -n "$bin" ]]; then
    # shellcheck disable=SC2086  # UPDATE_ARGS is a word list on purpose
    if ! "$bin" "$c" ${UPDATE_ARGS:-} | tee -a "$results"; then
      echo "compare.sh: $bin $c failed" >&2
    fi
  fi
  if [[ -n "$peer_py" ]]; then
    if ! "$peer_py" bench/peer/sac_update.py "$c" --threads "$threads" --seconds "$seconds" --no-sgemm \
        | tee -a "$results"; then
      echo "compare.sh: the peer failed on $c" >&2
    fi
  fi
done

echo
"$parser" - "$results" "${configs[@]}" <<'EOF'
import json, sys

path, configs = sys.argv[1], sys.argv[2:]
ours, peer, sgemm = {}, {}, {}
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        r = json.loads(line)
    except ValueError:
        continue
    b = r.get("bench")
    if b == "update":
        ours.setdefault(r.get("config"), r)      # first line per config
    elif b == "update_peer":
        peer[(r["config"], r["threads"])] = r
    elif b == "sgemm_peer":
        sgemm[r["threads"]] = r["gflops"]

threads = sorted({t for _, t in peer}) or [None]
f = lambda x, d=1: "–" if x is None else f"{x:.{d}f}"
print(f"{'config':<9} {'thr':>3} {'vksac upd/s':>11} {'peer upd/s':>10} {'vksac/peer':>10}"
      f" {'vksac GF/s':>10} {'peer GF/s':>9} {'peer %sgemm':>11}")
for c in configs:
    o = ours.get(c, {})
    for t in threads:
        p = peer.get((c, t), {})
        ou, pu = o.get("updates_per_s"), p.get("updates_per_s")
        ratio = ou / pu if ou and pu else None
        pg = p.get("gflops")
        frac = 100.0 * pg / sgemm[t] if pg and sgemm.get(t) else None
        print(f"{c:<9} {t if t is not None else '–':>3} {f(ou):>11} {f(pu):>10} {f(ratio, 2):>10}"
              f" {f(o.get('gflops')):>10} {f(pg):>9} {f(frac, 0):>11}")
for t, g in sorted(sgemm.items()):
    print(f"sgemm 1024³ (torch.mm, OpenBLAS), {t} thread(s): {g:.1f} GFLOP/s")
for c in configs:
    if c in ours:
        o = ours[c]
        print(f"vksac: \"threads\":{json.dumps(o.get('threads'))} (bench/update's lavapipe setting), "
              f"device {o.get('device', '?')}")
        break
if not ours:
    print("(no vksac results: build/bench/update missing or failed)")
if not peer:
    print("(no peer results: PyTorch missing or the peer failed)")
EOF
exit 0
