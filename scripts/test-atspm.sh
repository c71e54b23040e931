#!/usr/bin/env bash
# ATSPM interop: the `atspm` package (PyPI, in a venv under ~/.cache, installed only when
# absent) reads the virtual signal controllers' event log of a run of the generated demo
# city under the adaptive `citybrain` controller (operational timing), and
# scripts/atspm_check.py checks that its timeline, terminations, arrival-on-green and
# split-failure measures are not empty and that the greens agree with the twin's trace.
set -euo pipefail
cd "$(dirname "$0")/.."
REL="${CARGO_TARGET_DIR:-target}/release"

VENV="${CITYBRAIN_ATSPM_VENV:-$HOME/.cache/citybrain-atspm}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import atspm, pyarrow' 2>/dev/null; then
  echo "==> installing atspm and pyarrow into $VENV"
  python3 -m venv "$VENV"
  # atspm 2.6 runs on DuckDB 1 (DuckDB 2 refuses its multi-statement loads).
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'atspm>=2.6,<3' 'duckdb<2' pyarrow
fi

cargo build --release -p citybrain
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$REL"/citybrain gen --out "$WORK/city" --rows 4 --cols 4 >/dev/null
"$REL"/citybrain sim --roadnet "$WORK/city/roadnet.json" --flow "$WORK/city/flow.json" --steps 3600 \
  --controller citybrain --protocol operational --atspm "$WORK/atspm"
"$VENV/bin/python" scripts/atspm_check.py "$WORK/atspm"
