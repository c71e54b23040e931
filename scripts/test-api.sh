#!/usr/bin/env bash
# The API contract and hostile clients against a running `citybrain serve` on loopback:
# schemathesis (PyPI, in a venv under ~/.cache, installed only when absent) sends at
# least 1,000 generated requests and fails on any 5xx or response that violates the
# OpenAPI document; then 50 WebSocket clients send unfinished and oversized 45 MiB
# frames and the server's RSS must stay under 200 MiB. `/metrics` must pass
# `promtool check metrics` (Debian's prometheus package, installed by scripts/test.sh).
# The Parquet downloads must open in pyarrow (PyPI, same venv) and equal the CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
REL="${CARGO_TARGET_DIR:-target}/release"   # where cargo puts release binaries

VENV="${CITYBRAIN_VENV:-$HOME/.cache/citybrain-schemathesis}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "==> installing schemathesis into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi
"$VENV/bin/python" -c 'import pyarrow' 2>/dev/null || "$VENV/bin/pip" install --quiet --disable-pip-version-check pyarrow

cargo build --release -p citybrain
cargo build --release -p server --example ws_flood
PORT="${CITYBRAIN_API_TEST_PORT:-18090}"
WORK="$(mktemp -d)"
"$REL"/citybrain gen --out "$WORK/city" --rows 4 --cols 4 >/dev/null
cat >"$WORK/serve.json" <<JSON
{"bind": "127.0.0.1", "port": $PORT, "data_dir": "$WORK/data", "web": "web",
 "roadnet": "$WORK/city/roadnet.json", "flow": "$WORK/city/flow.json", "speed": 20}
JSON
# DELETE /api/v1/tokens/{id} is left out: the fuzzer finds its own token's id and revokes
# it, after which every request is a 401 (the contract test covers that route).
# The brain refuses the public's writes: schemathesis posts as a transport-bureau service
# account (the loop detectors' owner), so ingest is exercised; other departments'
# sensors are refused per record, restricted reads answer their documented 403.
TOKEN="$("$REL"/citybrain accounts add --data-dir "$WORK/data" --name api.test --department transport-bureau --role service | sed -n 's/.*token (shown once): //p')"
[ -n "$TOKEN" ] || { echo "no token from citybrain accounts add" >&2; exit 1; }
"$REL"/citybrain serve --config "$WORK/serve.json" >"$WORK/serve.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log"; echo "serve exited early" >&2; exit 1; }
  sleep 0.2
done
sleep 2 # a few state ticks, so live state and history have data

run_schemathesis() {
  set +e
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
    --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $TOKEN" \
    --exclude-path '/api/v1/tokens/{id}' \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --phases examples,coverage,fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-250}" --seed 1 \
    --workers 2 --request-timeout 20 --no-color --suppress-health-check too_slow \
    --report junit --report-junit-path "$WORK/junit.xml" 2>&1 | tee "$WORK/st.log" | tail -40
  rc=${PIPESTATUS[0]}
  set -e
}
echo "==> schemathesis against http://127.0.0.1:$PORT"
start=$(date +%s)
run_schemathesis
# The tool itself sometimes crashes while generating (seen: hypothesis's "AST constructor
# recursion depth mismatch" under Python 3.11). Such a run found no failure of ours, so it
# is run once more; any failed check, or a second crash, fails the test.
if [ "$rc" != 0 ] && grep -q "Runtime Error" "$WORK/st.log" && ! grep -qE "^=+ FAILURES =+$" "$WORK/st.log"; then
  echo "schemathesis crashed on its own (no failed check); running it once more" >&2
  grep -A3 "^Runtime Error" "$WORK/st.log" >&2 || true
  run_schemathesis
fi
echo "schemathesis: exit $rc in $(( $(date +%s) - start )) s"
# Count the requests actually sent from the server's own request counter.
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep '^citybrain_http_requests_total' || true
[ "$rc" = 0 ] || { echo "schemathesis found server errors or schema violations; its full output:" >&2; cat "$WORK/st.log" >&2; tail -n 30 "$WORK/serve.log" >&2; exit 1; }
requests=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^citybrain_http_requests_total/ {print int($2)}')
[ "${requests:-0}" -ge 1000 ] || { echo "only ${requests:-0} requests reached the server (need >= 1000)" >&2; exit 1; }

echo "==> promtool check metrics"
curl -fsS "http://127.0.0.1:$PORT/metrics" | promtool check metrics

echo "==> Parquet open data read by pyarrow, equal to the CSV"
"$VENV/bin/python" scripts/parquet_check.py "http://127.0.0.1:$PORT"

echo "==> 50 hostile WebSocket clients"
"$REL"/examples/ws_flood "127.0.0.1:$PORT" "$PID" 50 45
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "server unhealthy after the flood" >&2; exit 1; }
echo "==> API tests passed"
