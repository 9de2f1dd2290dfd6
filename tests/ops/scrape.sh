#!/usr/bin/env bash
# Starts the orders example (embedded issuer) on a free loopback port, sends
# a few allowed and refused requests, scrapes /metrics, lints it with
# `promtool check metrics`, checks the counters moved by the expected
# amounts, checks /ready, and checks the Grafana dashboard against the
# scrape. Every step is bounded in time; the example is killed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

timeout 600 cargo build -q --all-features --example orders
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
ORDERS_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  timeout 300 cargo run -q --all-features --example orders >"$work/out" 2>"$work/err" &
pid=$!

for _ in $(seq 1 100); do
  grep -q "^orders service on" "$work/out" 2>/dev/null && break
  sleep 0.2
done
grep -q "^orders service on" "$work/out" || { echo "the example did not start"; cat "$work/err"; exit 1; }

# The tokens the example prints after each comment line.
token_after() { grep -A1 -F "$1" "$work/out" | sed -n "s/.*Bearer \([^']*\)'.*/\1/p" | head -1; }
# They are printed after the "orders service on" line: wait for the last one read.
for _ in $(seq 1 50); do
  [ -n "$(token_after "# wrong audience")" ] && break
  sleep 0.1
done
read_token=$(token_after "# valid token with orders:read")
expired=$(token_after "# expired")
wrong_aud=$(token_after "# wrong audience")
issuer=$(sed -n 's/^Embedded issuer: \([^ ]*\) .*/\1/p' "$work/out")
[ -n "$read_token" ] && [ -n "$expired" ] && [ -n "$wrong_aud" ] && [ -n "$issuer" ] \
  || { echo "the example printed no demo tokens"; cat "$work/out"; exit 1; }

code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }
expect() { local want=$1; shift; local got; got=$(code "$@"); [ "$got" = "$want" ] || { echo "want $want, got $got: $*"; exit 1; }; }
expect 200 "$base/ready"
expect 200 -H "Authorization: Bearer $read_token" "$base/orders"
expect 200 -H "Authorization: Bearer $read_token" "$base/orders"
expect 403 -X POST -H "Authorization: Bearer $read_token" "$base/orders"
expect 401 -H "Authorization: Bearer $expired" "$base/orders"
expect 401 -H "Authorization: Bearer $wrong_aud" "$base/orders"
expect 401 "$base/orders"
expect 200 "$base/health"

curl -sf -m 10 "$base/metrics" >"$work/metrics"
promtool check metrics <"$work/metrics"
python3 tests/ops/check_exposition.py counters "$work/metrics" "$issuer"
python3 -m json.tool docs/grafana/oauth2-guard.json >/dev/null
python3 tests/ops/check_exposition.py dashboard "$work/metrics" docs/grafana/oauth2-guard.json
echo "scrape checks passed"
