#!/usr/bin/env bash
# Durability under kill -9: 20 runs of `citybrain serve` killed with SIGKILL during
# sustained HTTP ingest; prints, per run, the observations acknowledged and how many of
# them the SQLite file holds afterwards. Exits non-zero if any acknowledged one is lost.
# Usage: ./scripts/kill9.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
REL="${CARGO_TARGET_DIR:-target}/release"   # where cargo puts release binaries
cargo build --release -q -p citybrain
exec "$REL/citybrain" bench --kill9 "${1:-20}"
