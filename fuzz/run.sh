#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time: ./fuzz/run.sh [seconds-per-target] [target...]
# Default 60 s each. The toolchain may be stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass the nightly-only flags it needs. SANITIZER=address (default: none, the crate
# has no unsafe code and runs ~10x faster without ASan) selects the sanitizer.
# Crashes land in fuzz/artifacts/<target>/; the script exits non-zero on any.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(token jwks authorization dpop_proof)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v cargo-fuzz >/dev/null || { echo "cargo install cargo-fuzz" >&2; exit 2; }
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== $t: ${secs}s"
  if ! cargo fuzz run --sanitizer "${SANITIZER:-none}" "$t" "corpus/$t" -- \
      -max_total_time="$secs" -max_len=20000 -timeout=5 -rss_limit_mb=2048 \
      -print_final_stats=1 2>&1 | tee "artifacts/$t/last-run.log" | grep -E "^(#[0-9]+ +DONE|stat::|==|INFO: Done|.*(panicked|crash|ERROR))"; then
    :
  fi
  if grep -qE "panicked|Test unit written|ERROR: libFuzzer" "artifacts/$t/last-run.log"; then
    echo "!! $t found a crash: see fuzz/artifacts/$t" >&2
    status=1
  fi
done
exit $status
