#!/usr/bin/env bash
# Start / stop / reload the interop provider (provider.mjs) in the background.
#
#   tests/interop/start.sh [start]   npm ci if needed, start, wait for discovery, print the pid
#   tests/interop/start.sh stop      stop the provider started for this STATE_DIR
#   tests/interop/start.sh reload    SIGHUP: re-read KEYS_FILE (key rotation without restart)
#   tests/interop/start.sh status    exit 0 if running (prints the pid)
#
# Env:
#   PORT         default 9400 (listens on 127.0.0.1 only; issuer http://127.0.0.1:$PORT)
#   STATE_DIR    default tests/interop/.state/$PORT  (pid file, log, default key file)
#   KEYS_FILE    default $STATE_DIR/keys.json (created with one key per alg if missing)
#   AT_TTL       access-token TTL seconds, default 300
#   START_TIMEOUT  seconds to wait for discovery, default 30
#   TLS_KEY, TLS_CERT, TLS_CA  PEM files (passed on to provider.mjs): with TLS_CERT set the
#                provider serves HTTPS with the mTLS feature, the issuer is
#                https://127.0.0.1:$PORT and discovery is checked against TLS_CA
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${PORT:-9400}"
STATE_DIR="${STATE_DIR:-$here/.state/$PORT}"
KEYS_FILE="${KEYS_FILE:-$STATE_DIR/keys.json}"
START_TIMEOUT="${START_TIMEOUT:-30}"
PID_FILE="$STATE_DIR/provider.pid"
LOG_FILE="$STATE_DIR/provider.log"
ISSUER="http://127.0.0.1:$PORT"
CURL_TLS=()
if [[ -n "${TLS_CERT:-}" ]]; then
  ISSUER="https://127.0.0.1:$PORT"
  CURL_TLS=(--cacert "${TLS_CA:?TLS_CA is required with TLS_CERT}")
fi

log() { echo "start.sh: $*" >&2; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}

# kill -0 also succeeds for a zombie (exited, not yet reaped by init): check the state too.
alive() {
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$stat" && "$stat" != Z* ]]
}

discovery_ok() {
  curl -fsS --max-time 2 ${CURL_TLS[@]+"${CURL_TLS[@]}"} "$ISSUER/.well-known/openid-configuration" >/dev/null 2>&1
}

cmd_start() {
  mkdir -p "$STATE_DIR"
  if pid="$(running_pid)"; then
    log "already running (pid $pid) at $ISSUER"
    echo "$pid"
    return 0
  fi
  if [[ ! -d "$here/node_modules/oidc-provider" ]]; then
    log "node_modules missing: npm ci"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
  if discovery_ok; then
    log "something else already answers at $ISSUER; refusing to start"
    return 1
  fi
  PORT="$PORT" KEYS_FILE="$KEYS_FILE" nohup node "$here/provider.mjs" >"$LOG_FILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until discovery_ok; do
    if ! alive "$pid"; then
      log "provider exited during startup; log follows"
      cat "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "discovery did not answer within ${START_TIMEOUT}s; stopping pid $pid; log follows"
      kill "$pid" 2>/dev/null || true
      cat "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 0.2
  done
  log "ready at $ISSUER (pid $pid, keys $KEYS_FILE, log $LOG_FILE)"
  echo "$pid"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "pid $pid did not exit on TERM; sending KILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped pid $pid"
}

cmd_reload() {
  local pid
  pid="$(running_pid)" || { log "not running"; return 1; }
  local before
  before="$(grep -cE '^(RELOADED|reload failed)' "$LOG_FILE" || true)"
  kill -HUP "$pid"
  for _ in $(seq 1 50); do
    if [[ "$(grep -cE '^(RELOADED|reload failed)' "$LOG_FILE" || true)" -gt "$before" ]]; then
      local line
      line="$(grep -E '^(RELOADED|reload failed)' "$LOG_FILE" | tail -1)"
      if [[ "$line" == RELOADED* ]]; then
        echo "$line"
        return 0
      fi
      log "$line"
      return 1
    fi
    sleep 0.1
  done
  log "no RELOADED line after 5s; log follows"
  tail -20 "$LOG_FILE" >&2
  return 1
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  reload) cmd_reload ;;
  status) running_pid ;;
  *) log "usage: $0 [start|stop|reload|status]"; exit 2 ;;
esac
