#!/usr/bin/env bash
# Self-check of the Node side: starts its own provider on $PORT (default 9450) with a throwaway
# key file, checks a client_credentials JWT per alg, PKCE, opaque introspection/revocation and a
# key rotation, then stops it. Prints "N passed, N failed".
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PORT="${PORT:-9450}"
tmp="$(mktemp -d)"
export STATE_DIR="$tmp" KEYS_FILE="$tmp/keys.json"
B="http://127.0.0.1:$PORT"
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local name="$1"; shift; if "$@" >/dev/null; then ok "$name"; else ko "$name"; fi; }
cleanup() { "$here/start.sh" stop >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

part() { # part <jwt> <0=header|1=payload>
  node -e 'console.log(Buffer.from(process.argv[1].split(".")[+process.argv[2]],"base64url").toString())' "$1" "$2"
}
cc() { # cc <client> [resource]
  curl -fsS -u "$1:secret-$1" -d grant_type=client_credentials -d "resource=${2:-urn:oauth2-guard:orders}" \
    -d scope=orders:read "$B/token" | jq -r .access_token
}

"$here/start.sh" >/dev/null 2>"$tmp/start.err" || { cat "$tmp/start.err"; echo "0 passed, 1 failed"; exit 1; }

for a in RS256 PS256 ES256 ES384 EdDSA; do
  c="cc-$(echo "$a" | tr 'A-Z' 'a-z')"
  t="$(cc "$c")"
  h="$(part "$t" 0)"; p="$(part "$t" 1)"
  check "$c header" jq -e --arg a "$a" '.alg == $a and .typ == "at+jwt" and (.kid | startswith($a | ascii_downcase))' <<<"$h"
  check "$c claims" jq -e --arg c "$c" --arg i "$B" '.iss == $i and .aud == "urn:oauth2-guard:orders"
    and .scope == "orders:read" and .client_id == $c and .sub == $c and (.exp - .iat) == 300' <<<"$p"
done

t="$(node "$here/pkce.mjs")"
check "pkce token" jq -e --arg i "$B" '.sub == "alice" and .client_id == "pkce-public" and .iss == $i
  and .aud == "urn:oauth2-guard:orders" and .scope == "orders:read orders:write"' <<<"$(part "$t" 1)"

op="$(cc cc-rs256 urn:oauth2-guard:opaque)"
intro() { curl -fsS -u rs-introspect:secret-rs-introspect -d "token=$op" "$B/token/introspection"; }
check "opaque active" jq -e '.active == true and .aud == "urn:oauth2-guard:opaque"' <<<"$(intro)"
curl -fsS -u cc-rs256:secret-cc-rs256 -d "token=$op" "$B/token/revocation" >/dev/null
check "opaque revoked" jq -e '.active == false' <<<"$(intro)"

kid() { part "$(cc cc-rs256)" 0 | jq -r .kid; }
jwks() { curl -fsS "$B/jwks" | jq -r '[.keys[].kid] | join(" ")'; }
old="$(kid)"
new="$(node "$here/keys.mjs" add "$KEYS_FILE" RS256)"
"$here/start.sh" reload >/dev/null
check "rotation add: old signs, new published" test "$(kid)" = "$old" -a -n "$(jwks | grep -w "$new")"
node "$here/keys.mjs" promote "$KEYS_FILE" "$new"
"$here/start.sh" stop >/dev/null 2>&1; "$here/start.sh" >/dev/null 2>&1
check "rotation promote (restart): new signs" test "$(kid)" = "$new"
node "$here/keys.mjs" remove "$KEYS_FILE" "$old"
"$here/start.sh" reload >/dev/null
check "rotation remove: old unpublished" test -z "$(jwks | grep -w "$old")"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
