#!/usr/bin/env bash
# Durability of MQTT ingest: RUNS runs in which gateways publish QoS 1 observations through
# a Mosquitto this script's command starts on 127.0.0.1:18283 (persistence in a temp dir;
# the shared broker on 1883 is untouched), Mosquitto is restarted under load and
# `citybrain serve` is killed with SIGKILL mid-run, then both are running again; prints per
# run the observations the broker acknowledged to the gateways and how many of them the
# brain's SQLite file holds, and how many are stored twice. Exits non-zero if any
# acknowledged one is lost or duplicated.
# Usage: ./scripts/mqtt-kill9.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || {
  echo "mosquitto is not installed (scripts/test.sh installs it)" >&2; exit 1; }
export PATH="$PATH:/usr/sbin"
REL="${CARGO_TARGET_DIR:-target}/release"   # where cargo puts release binaries
cargo build --release -q -p citybrain
exec "$REL/citybrain" bench --mqtt-kill9 "${1:-5}" --batch 200
