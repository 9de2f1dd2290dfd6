#!/usr/bin/env bash
# Cross-check of the load test with an independent load generator, wrk
# (Debian package `wrk`). The servers are those of benches/load.rs, started
# in serve-only mode (server runtime pinned to the second core); wrk runs with
# one thread pinned to the first core. Scenarios `repeated` and `distinct`
# (the key rotation is covered by the load test itself), servers interleaved
# in rounds. Bounded: 2 scenarios x 4 servers x WRK_SECS, and the server
# process is killed at the end (and stops by itself after 600 s).
#
# wrk sleeps in epoll_wait like an ordinary client, so on loopback the
# server's core also pays for waking it (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
secs="${WRK_SECS:-8}"
rounds="${WRK_ROUNDS:-4}"
conns="${WRK_CONNECTIONS:-32}"
slice=$(( secs / rounds )); (( slice >= 1 )) || slice=1

# The bench binary's path, from cargo's build report (bench binaries carry a hash).
bin=$(cargo bench --bench load --features testkit --no-run --message-format=json \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "load" and m.get("executable"):
        print(m["executable"])')
[[ -x "$bin" ]] || { echo "load bench binary not found" >&2; exit 1; }
dir=$(mktemp -d)
LOADTEST_SERVE_DIR="$dir" LOADTEST_SERVE_SECS=600 "$bin" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 600); do [[ -s "$dir/servers.txt" ]] && break; sleep 0.1; done
[[ -s "$dir/servers.txt" ]] || { echo "servers did not start" >&2; exit 1; }
control=$(cat "$dir/control.txt")

# One RS256 verification's time in µs, measured on the server thread now.
t_verify_now() {
  local port=${control##*:} body
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /t_verify HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  body=$(cat <&3 | tail -n 1)
  exec 3<&-
  [[ $body =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bad /t_verify answer: $body" >&2; exit 1; }
  echo "$body"
}

echo "wrk cross-check: 1 thread pinned to core 0, $conns connections, ${slice} s slices x $rounds rounds per server"
printf '%-9s %-16s %10s %9s %9s %8s  %s\n' scenario server "req/s" "p50" "p99" "errors" vs
status=0
for scenario in repeated distinct; do
  declare -A reqs=() time=() bad=() p50=() p99=()
  t_sum=0
  for _ in $(seq 1 "$rounds"); do
    while read -r name addr; do
      out=$(TOKENS="$dir/$scenario.txt" taskset -c 0 wrk -t1 -c"$conns" -d"${slice}s" --latency \
        -s bench/wrk.lua "http://$addr/orders")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      # "N requests in 2.00s," (wrk writes longer runs in m or h).
      d=$(awk '/requests in/ {v = $4; sub(/,$/, "", v); u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
        print v * (u == "ms" ? 0.001 : u == "m" ? 60 : u == "h" ? 3600 : 1)}' <<<"$out")
      # Non-2xx answers and socket errors (connect, read, write, timeout) both count.
      e=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
      reqs[$name]=$(( ${reqs[$name]:-0} + n ))
      time[$name]=$(awk -v a="${time[$name]:-0}" -v b="$d" 'BEGIN {print a + b}')
      bad[$name]=$(( ${bad[$name]:-0} + ${e:-0} ))
      # Percentiles of the last round (wrk does not export the histogram).
      p50[$name]=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99[$name]=$(awk '$1 == "99%" {print $2}' <<<"$out")
      if [[ $name == bare ]]; then
        t_sum=$(awk -v a="$t_sum" -v b="$(t_verify_now)" 'BEGIN {print a + b}')
      fi
    done < "$dir/servers.txt"
  done
  rps() { awk -v n="${reqs[$1]}" -v t="${time[$1]}" 'BEGIN {printf "%.0f", n / t}'; }
  bare=$(rps bare)
  t_verify=$(awk -v s="$t_sum" -v n="$rounds" 'BEGIN {printf "%.1f", s / n}')
  computed=$(awk -v b="$bare" -v t="$t_verify" 'BEGIN {printf "%.0f", 1 / (1 / b + t / 1e6)}')
  measured=$(rps bare+verify)
  while read -r name _; do
    r=$(rps "$name")
    case "$scenario/$name" in
      */bare) vs="t_verify = $t_verify µs, computed bound $computed req/s" ;;
      */bare+verify) vs=$(awk -v r="$r" -v b="$bare" -v c="$computed" \
        'BEGIN {printf "%.1f %% of bare, %.1f %% of the computed bound", 100*r/b, 100*r/c}') ;;
      repeated/guarded) vs=$(awk -v r="$r" -v b="$bare" 'BEGIN {printf "%.1f %% of bare (target >= 85 %%)", 100*r/b}') ;;
      *) vs=$(awk -v r="$r" -v b="$bare" -v m="$measured" -v c="$computed" \
        'BEGIN {printf "%.1f %% of bare, %.1f %% of the measured bound, %.1f %% of the computed bound", 100*r/b, 100*r/m, 100*r/c}') ;;
    esac
    printf '%-9s %-16s %10s %9s %9s %8s  %s\n' "$scenario" "$name" "$r" "${p50[$name]}" "${p99[$name]}" "${bad[$name]}" "$vs"
    (( ${bad[$name]} == 0 )) || status=1
  done < "$dir/servers.txt"
  unset reqs time bad p50 p99
done
exit $status
