#!/usr/bin/env bash
# The load benchmark of docs/performance.md: bare route vs the Layer, in one
# process, on loopback (benches/load.rs). Feature `introspection` adds the
# opaque-token row (`repeated` / `guarded-opaque`: introspection cache hits).
# Bounded: 3 scenarios x 4 servers (+1 in `repeated`) x
# (LOADTEST_SECS + LOADTEST_ROUNDS x 0.2 s warm-up), at most
# LOADTEST_MAX_REQUESTS requests per server and scenario. Exit status 1 when a
# target is missed or a request refused. LOADTEST_POLL=sleep: the load
# generator sleeps in epoll_wait instead of busy-polling (for comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
export LOADTEST_SECS="${LOADTEST_SECS:-4}"
export LOADTEST_CONNECTIONS="${LOADTEST_CONNECTIONS:-32}"
export LOADTEST_MAX_REQUESTS="${LOADTEST_MAX_REQUESTS:-2000000}"
export LOADTEST_ROUNDS="${LOADTEST_ROUNDS:-4}"
cargo bench --bench load --features testkit,introspection --no-run
exec timeout 300 cargo bench --quiet --bench load --features testkit,introspection
