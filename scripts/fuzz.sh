#!/usr/bin/env bash
# Run one cargo-fuzz target of fuzz/ for a while, on one core, at the lowest priority.
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_ARGS...]
#
# TARGET: ingest | cityflow | cbengine | sumo | ngsi_context | ngsi_query | ngsi_geo
# (see fuzz/README.md). Needs cargo-fuzz
# (`cargo install cargo-fuzz`) and a nightly toolchain (`rustup toolchain install nightly`).
# The corpus grows in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET); a crashing input
# is written to fuzz/artifacts/TARGET/. CI does not run this.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [LIBFUZZER_ARGS...]   (targets: ingest cityflow cbengine sumo ngsi_context ngsi_query ngsi_geo)" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: run 'cargo install cargo-fuzz' (and 'rustup toolchain install nightly')" >&2
    exit 1
fi

case "$target" in
    ingest) max_len=8192 ;;
    cityflow) max_len=16384 ;;
    cbengine) max_len=4096 ;;
    sumo) max_len=8192 ;;
    ngsi_context) max_len=8192 ;;
    ngsi_query) max_len=1024 ;;
    ngsi_geo) max_len=2048 ;;
    *)
        echo "unknown target '$target' (targets: ingest cityflow cbengine sumo ngsi_context ngsi_query ngsi_geo)" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")/../fuzz"
mkdir -p "corpus/$target"
# -O with debug assertions: optimised code that still checks integer overflow and the
# crates' debug invariants. One process (no -fork/-workers), so it keeps to one core.
exec nice -n 19 cargo +nightly fuzz run -O --debug-assertions "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -print_final_stats=1 "$@"
