#!/usr/bin/env bash
# Install what the tests need (on a fresh Debian machine with Rust) and run them all.
# Usage: ./scripts/test.sh            (CI=true makes missing ../shared/data a hard failure)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
need_apt=()
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v curl >/dev/null || need_apt+=(curl)
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v promtool >/dev/null || need_apt+=(prometheus)   # scripts/test-api.sh: promtool check metrics
command -v ogrinfo >/dev/null || need_apt+=(gdal-bin)   # citybrain/tests/geojson.rs reads our GeoJSON with GDAL
# crates/mqtt/tests: the real broker on 127.0.0.1:1883 (and scripts/mqtt-kill9.sh starts its own)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_pub >/dev/null || need_apt+=(mosquitto-clients)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
# Start Mosquitto on 127.0.0.1:1883 unless something already listens there (a fresh
# machine: the Debian package's service is not started in a container).
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "==> starting mosquitto on 127.0.0.1:1883"
  MOSQ_CONF="$(mktemp -d)/mosquitto.conf"
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > "$MOSQ_CONF"
  "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -d -c "$MOSQ_CONF"
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
fi
if command -v rustup >/dev/null; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi

if [ "${CI:-}" = "true" ] && [ ! -d ../shared/data ]; then
  echo "FATAL: CI=true but ../shared/data is missing; data tests cannot run" >&2
  exit 1
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test"
cargo test --workspace
echo "==> API contract (schemathesis) and hostile stream clients against citybrain serve"
scripts/test-api.sh
echo "==> incident detection on SUMO data (external check, short)"
scripts/sumo-incidents/check.sh --short
echo "==> ATSPM interop (the atspm package reads our signal log)"
scripts/test-atspm.sh
echo "==> green corridor: preemption intervals in atspm's timeline (external check)"
scripts/corridor/atspm.sh
if [ -x scripts/test-web.sh ]; then
  echo "==> web dashboard tests"
  scripts/test-web.sh
fi
echo "==> all tests passed"
