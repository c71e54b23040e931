#!/usr/bin/env bash
# The incident detector's external check (issue #16) on data our twin did not produce:
# SUMO runs the shared Hangzhou 4x4 scenario with induction loops where citybrain's
# registry has its detectors, GPS probes, and lane-blocking incidents injected through
# TraCI (inject.py); the observations are replayed through the brain's one ingestion
# path and scored against the injected ground truth by `citybrain eval incidents`.
#
#   scripts/sumo-incidents/check.sh            a full hour, 20 incidents, real demand
#   scripts/sumo-incidents/check.sh --short    what the test command runs: 15 minutes
#   ... [--scale S] [--incidents N] [--seed K] [--out DIR]
#
# SUMO comes from PyPI (eclipse-sumo + traci, pinned) in a venv under ~/.cache,
# installed only when absent. The check fails if any observation is rejected, if no
# incident could be placed, or if the score does not cover every placed incident.
set -euo pipefail
cd "$(dirname "$0")/../.."
REL="${CARGO_TARGET_DIR:-target}/release"
DATA="${CITYBRAIN_DATA:-../shared/data}"
D="$DATA/sumo/hangzhou_4x4"
if [ ! -f "$D/hangzhou_4x4.net.xml" ]; then
  if [ "${CI:-}" = "true" ]; then echo "FATAL: $D missing (CI=true)" >&2; exit 1; fi
  echo "skip: $D missing"; exit 0
fi

DURATION=3600 INCIDENTS=20 SCALE=1 SEED=1 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --short) DURATION=900 INCIDENTS=4 ;;
    --scale) SCALE="$2"; shift ;;
    --incidents) INCIDENTS="$2"; shift ;;
    --seed) SEED="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

VENV="${CITYBRAIN_SUMO_VENV:-$HOME/.cache/citybrain-sumo}"
if [ ! -x "$VENV/bin/sumo" ] || ! "$VENV/bin/python" -c 'import traci' 2>/dev/null; then
  echo "==> installing SUMO (PyPI eclipse-sumo, traci) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'eclipse-sumo==1.21.0' 'traci==1.21.0'
fi

cargo build --release -p citybrain
WORK="${OUT:-$(mktemp -d)}"
mkdir -p "$WORK"
[ -n "$OUT" ] || trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" scripts/sumo-incidents/inject.py --sumo "$VENV/bin/sumo" \
  --net "$D/hangzhou_4x4.net.xml" --routes "$D/hangzhou_4x4.rou.xml" --out "$WORK" \
  --duration "$DURATION" --incidents "$INCIDENTS" --scale "$SCALE" --seed "$SEED"
placed=$(($(wc -l <"$WORK/ground_truth.csv") - 1))
[ "$placed" -ge 1 ] || { echo "no incident could be placed" >&2; exit 1; }
"$REL"/citybrain eval incidents --roadnet "$D/hangzhou_4x4.net.xml" --flow "$D/hangzhou_4x4.rou.xml" \
  --ground-truth "$WORK/ground_truth.csv" --observations "$WORK/observations.jsonl" \
  --json "$WORK/score.json" --dump-events "$WORK/events.csv" 2>"$WORK/eval.err" | tee "$WORK/score.md"
cat "$WORK/eval.err" >&2
grep -q " 0 rejected$" "$WORK/eval.err" || { echo "observations were rejected" >&2; exit 1; }
scored=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["all"]["incidents"])' "$WORK/score.json")
[ "$scored" = "$placed" ] || { echo "scored $scored incidents, placed $placed" >&2; exit 1; }
echo "SUMO external check: $placed incidents scored; events in $WORK/events.csv"
