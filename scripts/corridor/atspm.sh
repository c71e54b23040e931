#!/usr/bin/env bash
# The corridor's preemption through the `atspm` package (part of the test command): serve
# the generated 4x4 city with its twin, create an emergency-services operator and a
# traffic-police viewer, pick an entry and an exit road whose shortest route crosses at
# least 3 signals, and run scripts/corridor/atspm_check.py: it starts a corridor, waits
# for the vehicle to arrive and its signals to recover, reads the signals' hi-res logs
# and checks that atspm's timeline has one Preempt row per signal matching the
# corridor's call-to-passage interval to 1 s.
# The atspm venv is scripts/test-atspm.sh's (installed only when absent). If it cannot
# be installed, the check is skipped with a message, except under CI=true, where that
# is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
REL="${CARGO_TARGET_DIR:-target}/release"
PORT="${CITYBRAIN_CORRIDOR_ATSPM_PORT:-18301}"

VENV="${CITYBRAIN_ATSPM_VENV:-$HOME/.cache/citybrain-atspm}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import atspm, pandas' 2>/dev/null; then
  echo "==> installing atspm into $VENV"
  if ! { python3 -m venv "$VENV" &&
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'atspm>=2.6,<3' 'duckdb<2' pyarrow; }; then
    if [ "${CI:-}" = "true" ]; then
      echo "FATAL: CI=true but the atspm package could not be installed; the corridor's atspm check cannot run" >&2
      exit 1
    fi
    echo "SKIPPED: the corridor's atspm check (the atspm package could not be installed; CI=true makes this fatal)" >&2
    exit 0
  fi
fi

cargo build --release -p citybrain
WORK="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
"$REL"/citybrain gen --out "$WORK/city" --rows 4 --cols 4 >/dev/null
password() { sed -n 's/.*password (shown once): //p'; }
ES_PW="$("$REL"/citybrain accounts add --data-dir "$WORK/data" --name es.check --department emergency-services --role operator | password)"
TP_PW="$("$REL"/citybrain accounts add --data-dir "$WORK/data" --name tp.check --department traffic-police --role viewer | password)"
[ -n "$ES_PW" ] && [ -n "$TP_PW" ] || { echo "no passwords from citybrain accounts add" >&2; exit 1; }
# An OD pair: the first entry road (in file order) with an exit road 3+ signals away.
read -r ORIGIN DEST < <(python3 - "$WORK/city/roadnet.json" <<'PY'
import json, sys
from collections import deque
net = json.load(open(sys.argv[1]))
virtual = {i["id"]: i.get("virtual", False) for i in net["intersections"]}
roads = {r["id"]: r for r in net["roads"]}
nxt = {r: [] for r in roads}
for i in net["intersections"]:
    for l in i.get("roadLinks", []):
        nxt[l["startRoad"]].append(l["endRoad"])
for o, r in roads.items():
    if not virtual[r["startIntersection"]]:
        continue
    seen, q = {o: 0}, deque([o])
    while q:
        a = q.popleft()
        for b in nxt[a]:
            if b not in seen:
                seen[b] = seen[a] + (0 if virtual[roads[a]["endIntersection"]] else 1)
                q.append(b)
    far = [d for d, n in seen.items() if virtual[roads[d]["endIntersection"]] and n >= 3]
    if far:
        print(o, far[0])
        break
PY
)
[ -n "${DEST:-}" ] || { echo "no OD pair crossing 3 signals in the generated city" >&2; exit 1; }
cat >"$WORK/serve.json" <<JSON
{"bind": "127.0.0.1", "port": $PORT, "data_dir": "$WORK/data", "web": "web",
 "roadnet": "$WORK/city/roadnet.json", "flow": "$WORK/city/flow.json", "speed": 20}
JSON
"$REL"/citybrain serve --config "$WORK/serve.json" >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log"; echo "serve exited early" >&2; exit 1; }
  sleep 0.2
done
echo "==> corridor $ORIGIN -> $DEST, atspm timeline against the corridor's preemption intervals"
"$VENV/bin/python" scripts/corridor/atspm_check.py "http://127.0.0.1:$PORT" es.check "$ES_PW" tp.check "$TP_PW" "$ORIGIN" "$DEST"
