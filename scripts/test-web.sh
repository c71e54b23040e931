#!/usr/bin/env bash
# Browser tests of the dashboard: start `citybrain demo` on loopback, drive headless
# Debian Chromium through playwright-core, check the map really drew, KPIs follow the
# stream and a click opens a history chart with data.
set -euo pipefail
cd "$(dirname "$0")/.."
REL="${CARGO_TARGET_DIR:-target}/release"   # where cargo puts release binaries

CHROME="${CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
[ -x "$CHROME" ] || { echo "chromium not found (apt-get install chromium)" >&2; exit 1; }

# playwright-core lives outside the repo's source tree, in target/.
NODE_DIR=target/web-tests
if [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent playwright-core@1)
fi

cargo build --release -p citybrain
PORT="${CITYBRAIN_TEST_PORT:-18080}"
WORK="$(mktemp -d)"
"$REL"/citybrain demo --port "$PORT" --speed 20 --data-dir "$WORK" >"$WORK/demo.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/demo.log"; echo "demo exited early" >&2; exit 1; }
  sleep 0.2
done
NODE_PATH="$PWD/$NODE_DIR/node_modules" CHROMIUM="$CHROME" BASE_URL="http://127.0.0.1:$PORT" \
  node web/tests/dashboard.mjs
# The unit page runs as a logged-in crew: the demo prints its accounts' passwords.
UNIT_USER=es.operator
UNIT_PASSWORD="$(awk '$1 == "user" && $2 == "es.operator" {print $NF}' "$WORK/demo.log")"
[ -n "$UNIT_PASSWORD" ] || { echo "no es.operator password in the demo's output" >&2; exit 1; }
NODE_PATH="$PWD/$NODE_DIR/node_modules" CHROMIUM="$CHROME" BASE_URL="http://127.0.0.1:$PORT" \
  UNIT_USER="$UNIT_USER" UNIT_PASSWORD="$UNIT_PASSWORD" node web/tests/unit.mjs
# Green corridors: the same emergency-services operator starts one from the dashboard.
NODE_PATH="$PWD/$NODE_DIR/node_modules" CHROMIUM="$CHROME" BASE_URL="http://127.0.0.1:$PORT" \
  UNIT_USER="$UNIT_USER" UNIT_PASSWORD="$UNIT_PASSWORD" node web/tests/corridor.mjs
NODE_PATH="$PWD/$NODE_DIR/node_modules" CHROMIUM="$CHROME" BASE_URL="http://127.0.0.1:$PORT" DEMO_LOG="$WORK/demo.log" \
  node web/tests/trust.mjs
