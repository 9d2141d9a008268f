#!/usr/bin/env bash
# Load benchmark of the HTTP service (not a timed test): a synthetic 1M-customer bundle, `tagcenter serve` and
# a minimal fixed-JSON actix-web server (examples/fixed_json.rs) side by side on loopback, driven by wrk.
#
#   benches/load.sh                      # defaults below; CUSTOMERS=100000 DURATION=5s for a quick run
#   DROP_CACHES=1 benches/load.sh        # empty the page cache first (root only): a cold bundle load
#
# Prints bundle load time (server-side read+verify+prepare, and process start to ready; from the page cache
# unless DROP_CACHES=1, and whether the file was cached is printed), resident memory,
# and for fixed / recommendations / churn: throughput at saturation and p50/p99 latency, then p50/p99 at
# about half the fixed handler's throughput (wrk paced with a per-connection delay).
set -euo pipefail
cd "$(dirname "$0")/.."

CUSTOMERS=${CUSTOMERS:-1000000}
ITEMS=${ITEMS:-20000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-$(nproc)}
WORK=${WORK:-out/bench-serve}
PORT=${PORT:-18080}
FIXED_PORT=${FIXED_PORT:-18081}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/tagcenter-target}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
for tool in curl bc; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done

echo "== building (release)"
cargo build --release -p tagcenter --examples --bins
BIN="$CARGO_TARGET_DIR/release"
mkdir -p "$WORK"
BUNDLE="$WORK/synthetic-$CUSTOMERS.tcb"
if [ ! -f "$BUNDLE" ]; then
  "$BIN/examples/synthetic_bundle" --customers "$CUSTOMERS" --items "$ITEMS" --out "$BUNDLE"
fi
ls -l "$BUNDLE"

KEY="bench-$(date +%s)-key"
HASH=$(printf '%s\n' "$KEY" | "$BIN/tagcenter" hash-key)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ -n "${DROP_CACHES:-}" ]; then
  sync && echo 3 > /proc/sys/vm/drop_caches
fi
CACHED=$( (fincore --bytes --noheadings --output RES "$BUNDLE" 2>/dev/null || echo "?") | tr -d " ")
started=$(date +%s.%N)
TAGCENTER_API_KEYS="bench:storefront+crm:$HASH" TAGCENTER_WORKERS="$WORKERS" RUST_LOG=warn \
  "$BIN/tagcenter" serve --bundle "$BUNDLE" --bind "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.05; done
ready=$(date +%s.%N)
LOAD_MS=$(curl -sf -H "X-API-Key: $KEY" "http://127.0.0.1:$PORT/v1/models" | sed -E 's/.*"load_ms":([0-9.]+).*/\1/')
rss() { awk '/VmRSS|VmHWM/ {printf "%s %.0f MiB  ", $1, $2/1024}' "/proc/$1/status"; }
echo "== bundle: $CUSTOMERS customers, $ITEMS items"
printf 'load (read+verify+prepare): %.0f ms; start to ready: %.0f ms; bundle bytes in the page cache before: %s\n' \
  "$LOAD_MS" "$(echo "($ready - $started) * 1000" | bc)" "$CACHED"
echo "memory after load: $(rss "$SERVER")"

"$BIN/examples/fixed_json" "127.0.0.1:$FIXED_PORT" "$WORKERS" >/dev/null 2>&1 &
PIDS+=("$!")
until curl -sf "http://127.0.0.1:$FIXED_PORT/" >/dev/null; do sleep 0.05; done

run() { # name url route connections delay_ms
  local out
  out=$(CUSTOMERS=$CUSTOMERS ROUTE=$3 API_KEY=$KEY DELAY_MS=$5 \
    wrk -t"$THREADS" -c"$4" -d"$DURATION" --latency -s benches/load.lua "$2")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | grep -E "Non-2xx|Socket errors" | tr '\n' ' ' || true)
  printf '%-26s %10s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors" >&2
  echo "$rps"
}

echo "== saturation ($CONNECTIONS connections, $THREADS wrk threads, $DURATION each, $WORKERS server workers)"
FIXED_RPS=$(run "fixed JSON" "http://127.0.0.1:$FIXED_PORT" fixed "$CONNECTIONS" 0)
run "recommendations" "http://127.0.0.1:$PORT" recommendations "$CONNECTIONS" 0 >/dev/null
run "churn" "http://127.0.0.1:$PORT" churn "$CONNECTIONS" 0 >/dev/null

HALF=$(printf '%.0f' "$(echo "$FIXED_RPS / 2" | bc -l)")
PACED=$(( HALF / 1000 > 0 ? HALF / 1000 : 1 ))
echo "== paced at about half the fixed handler's throughput (~$HALF req/s: $PACED connections, 1 ms apart)"
run "fixed JSON (half load)" "http://127.0.0.1:$FIXED_PORT" fixed "$PACED" 1 >/dev/null
run "recommendations (half)" "http://127.0.0.1:$PORT" recommendations "$PACED" 1 >/dev/null
run "churn (half)" "http://127.0.0.1:$PORT" churn "$PACED" 1 >/dev/null
echo "memory after the runs: $(rss "$SERVER")"
