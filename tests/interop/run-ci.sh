#!/usr/bin/env bash
# CI entry point of the interop suite (called by .ci/run; also fine locally).
#
#   tests/interop/run-ci.sh [extra args for the test binary, e.g. --nocapture]
#
# 1. checks Node.js >= 20 and npm are there;
# 2. `npm ci` in tests/interop when node_modules is missing or older than package-lock.json
#    (bounded: NPM_TIMEOUT, default 300 s);
# 3. cargo test --all-features --test interop -- --ignored (the tests are #[ignore]d for plain `cargo test`)
#    (bounded: TEST_TIMEOUT, default 1200 s, compilation included). Every test starts and stops
#    its own provider on a free 127.0.0.1 port; CARGO_TARGET_DIR etc. are passed through.
# Exits non-zero if anything fails. Providers are started with TMPDIR pointing at a directory
# owned by this run, so if the test process dies without cleaning up, the EXIT trap stops
# exactly the providers of this run (and nothing else on a shared machine).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
NPM_TIMEOUT="${NPM_TIMEOUT:-300}"
TEST_TIMEOUT="${TEST_TIMEOUT:-1200}"

log() { echo "run-ci.sh: $*" >&2; }

command -v node >/dev/null || { log "node not found (Node.js 20+ is required)"; exit 1; }
command -v npm >/dev/null || { log "npm not found"; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { log "Node.js $(node --version) is too old (need 20+)"; exit 1; }

stamp="$here/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || ! -d "$here/node_modules/oidc-provider" || "$here/package-lock.json" -nt "$stamp" ]]; then
  log "npm ci (timeout ${NPM_TIMEOUT}s)"
  started=$SECONDS
  (cd "$here" && timeout --kill-after=10 "$NPM_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error) ||
    { log "npm ci failed"; exit 1; }
  log "npm ci done in $((SECONDS - started))s"
fi

run_tmp="$(mktemp -d "${TMPDIR:-/tmp}/oauth2-guard-interop-run.XXXXXX")"
cleanup() {
  local pid_file dir
  for pid_file in "$run_tmp"/*/provider.pid; do
    [[ -f "$pid_file" ]] || continue
    dir="$(dirname "$pid_file")"
    log "stopping a provider left behind in $dir"
    STATE_DIR="$dir" "$here/start.sh" stop >/dev/null 2>&1 || true
  done
  rm -rf "$run_tmp"
}
trap cleanup EXIT

log "cargo test --all-features --test interop -- --ignored (timeout ${TEST_TIMEOUT}s)"
cd "$root"
status=0
TMPDIR="$run_tmp" timeout --kill-after=10 "$TEST_TIMEOUT" \
  cargo test --all-features --test interop -- --ignored "$@" || status=$?
if ((status == 124)); then
  log "timed out after ${TEST_TIMEOUT}s"
fi
exit "$status"
