//! Why each default is what it is. Documentation only; nothing to call.
//!
//! # Validation (RFC 9068, RFC 8725)
//!
//! | check | default | reason |
//! |---|---|---|
//! | signature | always | an unsigned or self-signed token proves nothing |
//! | algorithms | RS256/384/512, PS256/384/512, ES256, ES384, EdDSA | asymmetric only, so a resource server never holds a secret that can mint tokens (RFC 8725 §3.1) |
//! | `none` | impossible to enable | it is not a signature |
//! | HMAC | only with an explicit shared secret, and then only HMAC | prevents the RS→HS confusion where an RSA public key is used as an HMAC secret |
//! | algorithm source | the allowlist and the key, never the token alone | a key is bound to its type's algorithms and to its JWK `alg` |
//! | `iss` | exact string match | `https://idp/` and `https://idp` are different issuers (OIDC Core §3.1.3.7) |
//! | `aud` | required, must contain a configured audience | a token minted for another service must not work here (RFC 9068 §4) |
//! | `exp` | required | short-lived tokens only mean something if expiry is checked |
//! | `nbf`, `iat` | must not be in the future | tokens from a skewed or hostile clock |
//! | leeway | 60 s, at most 5 min | skew tolerance without turning 5-minute tokens into 15-minute ones |
//! | `typ` | `at+jwt`, `application/at+jwt`, and (unless strict) `JWT` or absent | Keycloak, Auth0 and Entra send `JWT`; strict mode refuses ID tokens posing as access tokens |
//! | `crit` | any value refused | no JWS extension is implemented, so none may be claimed as understood |
//! | size | 16 KiB, checked before decoding | decoding cost is bounded before anything is parsed |
//! | JWE | refused with reason `encrypted` | encrypted access tokens are for a different deployment model |
//! | `jku`, `jwk`, `x5u`, `x5c` headers | ignored | keys come only from the configured issuer; an attacker-chosen URL is never fetched |
//! | `cnf` claim (a key or certificate binding: `jkt`, `x5t#S256`, `jwk`, …) | read once into the claims, enforced after verification (cache hits too): `cnf.jkt` only with the `DPoP` scheme and a valid proof of that key; as Bearer refused with reason `sender_constrained`; `x5t#S256`: checked against the request's client certificate with feature `mtls` (see below), else refused (`sender_constrained`); `jwk`, `kid`, several methods or a malformed member: refused (`sender_constrained`); not an object: `invalid_claim` | a bearer presentation proves no possession; accepting it would make a stolen bound token usable (RFC 9449 §7.2, RFC 8705 §3) |
//!
//! # DPoP on the layer (feature `dpop`)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | DPoP | off; [`AuthLayerBuilder::dpop`](crate::AuthLayerBuilder::dpop) turns it on beside Bearer | needs the external base URL and clients that hold a key |
//! | `require_dpop` / [`RequireDpop`](crate::dpop::RequireDpop) | off | Bearer clients keep working until you choose; on: Bearer refused (`dpop_required`) before verification |
//! | `DPoP` scheme with an unbound token | refused (`dpop_jkt_mismatch`, `invalid_token`) | RFC 9449 §7.1: the token must be bound to the proof's key |
//! | `DPoP` scheme without a proof | 401 `invalid_dpop_proof` (`dpop_proof_missing`) | RFC 9449 §7.1 |
//! | two or more `DPoP` headers | 400 `invalid_request` | RFC 9449 §4.3 (1): which one the client meant is unknowable |
//! | challenges | `DPoP algs="…"` and (unless DPoP is required) `Bearer`, one `WWW-Authenticate` field each; the error on the challenge of the scheme used, DPoP errors on `DPoP`; `resource_metadata` on both | RFC 9449 §7.1; RFC 9110 §11.6.1 allows both forms, separate fields are what clients split most reliably |
//! | guards' answers (scope, role, tenant) | an anonymous caller's 401 carries every challenge of the layer; a 403 `insufficient_scope` is on `DPoP` when the layer accepts only DPoP or the request used DPoP, else on `Bearer` | the client learns every scheme it may retry with, and the error sits on the scheme it used |
//! | `DPoP-Nonce` | on `use_dpop_nonce` refusals, and on successes whose proof used the previous slot's nonce | RFC 9449 §8.2, §9: clients switch before their nonce goes stale |
//! | replay store | in memory per process; a shared store (`DpopConfigBuilder::replay_store`) is awaited once per request, the memory path stays synchronous | no infrastructure by default; a store error refuses with 503 (fail closed, not blaming the client) |
//! | shared replay store (features `dpop` + `redis`) | none; [`RedisReplayStore`](crate::dpop::RedisReplayStore) when given: one atomic `EVAL` per DPoP request, `SET NX PX` for the proof's remaining `iat` window | instances behind a load balancer otherwise each accept a proof once; the entry expires in Redis when the `iat` check would refuse the proof anyway |
//! | Redis replay store unreachable | 503 `dpop_replay_store_unavailable` with `Retry-After: 1`, after at most the timeout (250 ms); Bearer requests unaffected | fail closed: a replay check that cannot be made must not accept; the price is that DPoP is as available as Redis |
//! | Redis replay store, per key | at most 10 000 new proofs per key thumbprint per 60 s (`max_per_key`, `per_key_period`), beyond: 401 `dpop_replay_key_limit`, nothing stored | one client, or one stolen key, cannot fill Redis for everyone; refusing, never forgetting, keeps every stored proof unreplayable |
//! | `htu` base | the configured external base URL, never `Host` unless `with_insecure_trust_forwarded_headers` | `Host` is client- or proxy-controlled |
//! | trusted forwarded headers | scheme from `X-Forwarded-Proto`, host from `X-Forwarded-Host` then `Host` (first element of the first field), the base URL filling the rest; a malformed one refuses the proof (`dpop_htu`) | a proof is never checked against an origin other than the one the request names, and never silently against the configured one when the request names another |
//! | `Router::nest` | the layer sees the path its router sees: inside a nest, without the prefix | put the layer on the outer router, or include the prefix in the base URL |
//!
//! # DPoP proof checks (feature `dpop`)
//!
//! The values are [`DpopConfigBuilder`](crate::dpop::DpopConfigBuilder)'s
//! defaults (constants in [`crate::dpop`]); every check has its own reason
//! code ([`DpopError`](crate::dpop::DpopError)).
//!
//! | check | default | reason |
//! |---|---|---|
//! | algorithm allowlist | ES256, ES384, EdDSA, RS256/384/512, PS256/384/512 (`DEFAULT_DPOP_ALGORITHMS`); `none` and `HS*` refused at build time | a proof is verified with the public key it carries: a symmetric or absent signature would prove nothing (RFC 9449 §4.3) |
//! | `typ` | exactly `dpop+jwt` (case-insensitive) | a signed JWT of another kind (an ID token, a client assertion) must not pass as a proof |
//! | `crit` | refused | no JWS extension is understood, so none may be critical |
//! | `jwk` | required, public only (`d`, `p`, `q`, `k`, … refused), of the type `alg` needs | a proof whose key leaked its private part proves nothing; a key/alg mismatch is an algorithm confusion |
//! | RSA key size | 2048 to 8192 bits | under 2048 bits is factorable (RFC 7518 §3.3); above 8192 the backends do not verify and verification cost is unbounded |
//! | `iat` window | 60 s either way (`DEFAULT_IAT_WINDOW`), at most 300 s (`MAX_IAT_WINDOW`), at least 1 s | tolerates clock skew; bounds how long a captured proof stays usable and how long the replay cache must remember it |
//! | proof size | 8 KiB (`DEFAULT_MAX_PROOF_BYTES`), configurable from 1 KiB to 64 KiB, checked before any decoding | an RSA-8192 proof is about 3.5 KiB; a hostile header costs nothing to refuse |
//! | `htm`, `htu`, `ath`, `cnf.jkt` | always | a proof is for one method, one URL (RFC 3986 normalised, without query and fragment) and one token, made with the token's key |
//! | in-memory replay cache | 100 000 proofs (`DEFAULT_REPLAY_CAPACITY`), each until its `iat` window ends; when full, new proofs are refused (503 `dpop_replay_cache_full`), old ones are never forgotten early | bounded memory; forgetting a proof inside its window would make it replayable |
//! | proofs per key | 10 000 per window (`DEFAULT_REPLAY_PER_KEY`, ≈ 160 requests/s per key), beyond: `dpop_replay_key_limit` | one client, or one stolen key, cannot fill the cache for everyone else |
//! | server nonces | off; when on, rotated every 5 min by default (`DEFAULT_NONCE_ROTATION`, 10 s to 1 h), the current and the previous slot accepted | nonces cost every client a round trip per rotation; accepting the previous slot lets a nonce live one to two periods, so a client never races a rotation |
//! | nonce secret | random per process (32 bytes) unless `nonce_secret` is given | right for one instance with nothing to configure; instances behind one load balancer must share one, or each refuses the others' nonces |
//!
//! # Keys
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | key lookup | one `ArcSwap` load + hash lookup | no lock and no I/O on the request path |
//! | refresh | `Cache-Control: max-age` clamped to 5 min..24 h, 1 h without it; a conditional GET (`If-None-Match`/`If-Modified-Since`), a `304` keeps the set | honour the IdP, but never hammer it nor keep a removed key for days; an unchanged set costs an empty answer |
//! | unknown `kid` | one refresh, shared by concurrent requests, at most one per 30 s | the first token of a rotated-in key is accepted; random kids cannot amplify traffic to the IdP |
//! | fetch failure (network, HTTP status, not a JWK Set) | backoff 1 s..5 min with jitter; last good keys serve up to 24 h past their scheduled refresh | an IdP outage is not a service outage, but keys do not live forever |
//! | no keys | 503 with `Retry-After`, never 401 | a server-side condition must not tell clients their token is bad |
//! | fetched set drops a key | the key stops verifying at once, cached tokens included | the IdP removed it (rotation, compromise): it must not outlive the refresh that saw it gone |
//! | fetched set with no usable key (`{"keys": []}`, only P-521 or RSA-1024 keys) | installed: 503 `keys_unavailable`, an ERROR event naming the issuer, retried on the backoff | a well-formed set is the issuer's word; keeping the removed keys would serve them for up to a day |
//! | the same at startup | `build().await` fails (`InitialKeys`, `NoUsableKeys`) | a configuration problem is reported before the service takes traffic |
//! | odd JWKs (`use: enc`, unknown `kty`/`crv`, `key_ops` without `verify`, RSA < 2048 bits, RSA with `e` < 3 or even, private keys) | skipped | one odd key never invalidates the set; `e = 1` would make every padded hash a valid signature |
//! | duplicate `kid`s | both keys ignored | a kid must select exactly one key |
//! | URLs | HTTPS only; plain HTTP to `127.0.0.0/8` / `[::1]` only with `HttpConfig::allow_loopback_http` (not the name `localhost`), elsewhere only with `dangerous_allow_insecure_http` | keys fetched in clear text can be replaced on the path; loopback is for tests and demos, opted into deliberately, and a name can resolve off the machine |
//! | URL shape | no userinfo, no fragment; no query in an issuer identifier (RFC 8414 §2); endpoints may have a query | `https://sso.example.com@evil.example/` is a URL of `evil.example`, and fools a prefix check |
//! | redirects (discovery, JWKS) | at most 3, each within the HTTPS policy; a caller's `reqwest::Client` is checked on the final URL | an IdP may move a document, never to clear text |
//! | redirects (token requests) | never followed; a 3xx or a redirected answer is `FetchErrorKind::Redirect` | a 307/308 re-sends the body, with `client_secret_post` secrets or a `private_key_jwt` assertion |
//! | response size | 1 MiB | a hostile endpoint cannot exhaust memory |
//!
//! # Outbound DPoP (features `client` + `dpop`)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | DPoP on a `ClientCredentials` source | off; `ClientCredentialsBuilder::dpop(key)` | the token endpoint and every downstream must support it |
//! | key | PKCS#8 PEM (ES256, ES384, EdDSA, RS*/PS* ≥ 2048 bits), public JWK derived; or `DpopSigningKey::generate()` (P-256, `aws_lc_rs`) | a key made at start is never in a file; `HS*` refused (a proof is verified with the key it carries) |
//! | `token_type: Bearer` answer to a DPoP token request | refused (`TokenError::InvalidResponse`) | the server ignored the proof: using the unbound token would silently drop the protection asked for |
//! | proofs | one per token request (`htm` POST, `htu` the endpoint, no `ath`) and one per use (`htm`/`htu` of the request without query and fragment, `ath`), random 128-bit `jti`, `iat` now | RFC 9449 §4.2, §5, §7; a proof is never reused, so replay caches never refuse our own requests |
//! | `DPoP-Nonce` | remembered per origin (at most 256 origins), sent in later proofs | one extra round trip per nonce rotation, not per request |
//! | `use_dpop_nonce` | one retry with the new nonce (token endpoint: always; `BearerLayer`: when the body is replayable) | RFC 9449 §8, §9; a second refusal is returned, never a loop |
//! | private key, proofs | never in `Debug` or logs; `DPoP` and `Authorization` headers marked sensitive | a proof with its token is usable for up to the server's `iat` window |
//!
//! # Requests and responses (RFC 6750)
//!
//! | situation | answer |
//! |---|---|
//! | no credentials, or another scheme | 401, `WWW-Authenticate: Bearer realm="…"`, no error code |
//! | invalid token (any reason) | 401, `error="invalid_token"`, terse description |
//! | two `Authorization` headers, two credentials, token in the query string | 400, `error="invalid_request"` |
//! | keys unavailable | 503 + `Retry-After`, no challenge |
//! | missing scope (guards) | 403, `error="insufficient_scope"`, `scope="…"` |
//! | extractor without the layer | 500 naming the wiring mistake |
//!
//! Every rejection is one `tracing` event with a stable reason code, the issuer,
//! the `kid` and a token fingerprint (8 bytes of SHA-256) — never the token:
//! DEBUG for a missing token (anonymous probes must not flood the logs), INFO
//! for a refused token or a missing scope, WARN for unavailable keys, ERROR
//! for a guard or extractor without the layer.
//!
//! # Fingerprints and revocation
//!
//! ECDSA signatures are malleable: if `(r, s)` verifies, so does
//! `(r, n − s)`, so anyone holding an ES256/ES384 token can send a second
//! spelling of it. Both are accepted — most IdPs (Java, Go, Node) emit a
//! random `s`, half of them "high", and refusing those would refuse valid
//! tokens. The fingerprint in logs, in rejections and in
//! `VerifiedClaims::fingerprint` is made canonical instead: computed over
//! the signing input and the low-`s` signature, so both spellings log the
//! same value. Normalising costs nothing on a cache hit: the fingerprint is
//! computed once, when a token is first verified.
//!
//! | use | key on | never on |
//! |---|---|---|
//! | revocation deny-lists, replay detection | `jti` (one token), `sub` or `client_id` (everything of a principal) | token bytes, a hash of them, or a fingerprint of an encoding you did not make canonical: the twin spelling passes |
//! | log correlation, audit | the fingerprint | — |
//!
//! # Cache
//!
//! Verified tokens are cached by their exact bytes (full comparison on hit),
//! bounded in entries and bytes, never past `exp`, and void as soon as the
//! signing key leaves the JWKS. Post-verification hooks (revocation) run on
//! every request, cache hits included.
//!
//! # Protected-resource metadata (RFC 9728)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | the document (`layer::ProtectedResourceMetadata`) | not served; `router()` serves it at `/.well-known/oauth-protected-resource{/path of resource}` only, public, `Cache-Control: public, max-age=3600` | the unsuffixed URL is the host root's metadata: a client checks that `resource` is the identifier it derived the URL from (§3.3) |
//! | `resource`, `authorization_servers`, `resource_documentation` | `https` only; no userinfo or fragment; no query in `resource` or an issuer | clients compare `resource` byte for byte and fetch the others: nothing to spoof with `user@host`, nothing sent in clear text |
//! | `bearer_methods_supported` | `["header"]`, not configurable | the layer reads only the `Authorization` header; query and body tokens leak (RFC 6750 §5.3) |
//! | DPoP / mTLS fields | left out unless set: `dpop_signing_alg_values_supported` from `.dpop(&config)` or `.dpop_from_layer(&layer)`, `dpop_bound_access_tokens_required` from `.dpop_bound_access_tokens_required(true)` (refused at build without DPoP algorithms) or the layer's `require_dpop`, `tls_client_certificate_bound_access_tokens` from `.tls_client_certificate_bound_access_tokens(true)` | advertise exactly what the layer verifies: taken from the layer's own configuration, the document cannot promise what the layer does not check |
//! | `resource_metadata` in `WWW-Authenticate` | only with `AuthLayerBuilder::resource_metadata`; then in 401 and 403 `insufficient_scope` answers, not 400/503 | the answers after which a client needs another token; the URL is checked for quotes and backslashes as it is sent in a quoted parameter |
//!
//! # Multi-tenant issuers (tenant templates)
//!
//! An issuer built with `IssuerBuilder::tenants` (or
//! [`Entra::multi_tenant`](crate::presets::Entra::multi_tenant)) serves many
//! tenants with one key set; see [`crate::tenant`].
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | tenant policy | none: **required** (`build` fails without one) | with Entra anyone can create a tenant and get a token for a multi-tenant app; "which customers" is the service's decision |
//! | "every tenant" | only as `TenantPolicy::any_tenant_dangerous()` | accepting any tenant authenticates "some Microsoft tenant"; the name says so |
//! | `iss` | must equal the template filled with the token's **own** tenant claim (`tid`), else `tenant_mismatch` | the keys are shared: without it tenant A's token could claim tenant B's issuer |
//! | tenant ids | 1–128 ASCII letters, digits, `-`, `_`, `.` | nothing substituted into the issuer can change its shape (`/`, `?`, `..`) |
//! | placeholder | exactly one, in the path | a host taken from the token would make any domain owner "a tenant" |
//! | keys | `jwks_uri` (or static), never discovery | the template has no discovery document of its own (Entra's `common` document names the template as its issuer) |
//! | when the policy runs | after the signature and the claims verified | a forged token must never trigger a tenant lookup |
//! | lookup cache | 10 000 tenants; allowed 10 min, refused 1 min; 5 s timeout; 64 lookups in flight | a known tenant is decided synchronously with no lookup; one lookup per new tenant at a time; a slow database answers 503 (`tenant_lookup_unavailable`, not cached), never a hung request |
//! | stale answers | given for one more TTL (`stale_grace`) while **one** background lookup refreshes them; then the request waits | a known tenant never waits for a lookup; a database blip does not refuse known customers, and no answer outlives twice its TTL |
//! | lookup errors | `TenantPolicy::lookup_fallible`: `Err` → 503 `tenant_lookup_unavailable` with `Retry-After`, logged, never cached | a database error is not a refusal (401) and must not be remembered as one |
//! | token-cache hits | ask the policy again | an offboarded tenant is refused without waiting for its tokens to expire |
//! | `organizations` / `consumers` | personal-account tenant `9188040d-6c67-4c5b-b112-36a304b66dad` refused / the only one accepted | as Microsoft defines the two endpoints |
//!
//! # Roles
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | role refusal | 403, `error="insufficient_scope"` described as a missing role, no `scope`; body `missing role(s): …`; log fields `required_roles`, `missing_roles` | RFC 6750 has no role error; naming the role tells the caller (and the audit log) what is missing without a `scope` no client could request |
//! | a role guard no issuer can satisfy | one WARN on `oauth2_guard::authz` (`check="unmapped_roles"`) when the guard and a layer whose issuers map no roles are both built, and at its first refusal for that reason; `RequireRole::checked_against(issuers)` (for a `HasRole<R>` extractor, which is never built before a request: `authz::check_roles_mapped::<R>(issuers)`) → `ConfigError::InvalidRole` | roles are only read from configured claim paths: without one the guard would answer 403 to everyone. A warning, not an error, by default: the process cannot tell which of several layers a guard is behind |
//! | introspection readiness | not ready while the last introspection call failed, for at most `max_age` | judged from the requests' own calls: a probe would add traffic to the IdP; the age bound lets an instance out of rotation get traffic, and so a new verdict, again |
//!
//! # Presets
//!
//! A preset adds exactly the checks its page lists; what every issuer does
//! (the `typ: JWT` header, `aud` arrays, `use: enc` keys skipped) is not a
//! preset quirk. The Okta **org** authorization server is refused: its
//! access tokens are for Okta's own APIs, and Okta documents that they must
//! not be validated by your resource servers.
//!
//! # Revocation list
//!
//! [`RevocationList`](crate::revocation::RevocationList) is checked after
//! verification on every request, cache hits included, so a revocation
//! takes effect on the next request even for a token verified a second ago.
//!
//! | choice | why |
//! |---|---|
//! | entries on `jti`, `sub`, `client_id` — never token bytes | an ES256 token has a second valid spelling (see above) |
//! | a `jti` entry lives until the `expires_at` it was given (the token's `exp`; the handler defaults to now + the max token lifetime) | after that the token is refused as expired anyway |
//! | a subject/client entry lives until `issued_before` + max token lifetime (24 h by default) | the longest a token issued before then can still be valid; a longer-lived token would be accepted again once its entry is pruned, so set it ≥ your IdP's longest lifetime |
//! | entries kept 5 min past that | the layer's clock-skew leeway is at most 5 min |
//! | `issued_before` rounded up to the whole second | `iat` has whole seconds: a token minted earlier in the same second is caught |
//! | no `iat` + a matching subject/client entry → refused | the token's age is unknown; accepting it would let it escape "everything before T" |
//! | full list (100 000 live entries) → `RevocationError::Full`, no eviction | evicting would silently accept a revoked token again; the caller learns the entry was not stored |
//! | pruned on every write and by `prune()` | the list never grows past what can still match a valid token |
//! | `ArcSwap` snapshot, copy-on-write under a writer-only mutex | the request path takes no lock and allocates nothing; revocations are rare, requests are not |
//!
//! ## Shared through Redis (feature `redis`)
//!
//! | choice | why |
//! |---|---|
//! | the request path reads the same local snapshot; Redis only feeds it | no network round trip and no lock per request; Redis being slow cannot slow requests |
//! | one key per revocation (`<ns>:revoked:<kind>:<time>:<id>`), TTL = entry expiry + leeway | entries expire in Redis by themselves; two instances revoking the same subject never overwrite each other (no read-modify-write) |
//! | `SET` + `PUBLISH` in one `MULTI` | no instance hears of an entry that was not stored |
//! | subscribe, then full load (`SCAN` + `MGET`, never `KEYS`), at start and after every reconnect | a change published while an instance was away is found by the load; one published during the load arrives as a message |
//! | full reload every 5 min | a safety net for a lost message; `SCAN` walks the whole database, so not more often |
//! | `PING` on the subscription every 1 s, 1 s timeout on every call | a connection that died silently (no FIN) is found within about 2 s |
//! | reconnect backoff 50 ms doubling to 5 s | back within ~50 ms after a restart, without hammering a Redis that is down |
//! | a full load merges, never removes | there is no un-revoke; a Redis that restarted empty must not make an instance forget revocations it holds |
//! | revoke: local first, then Redis; if Redis cannot be written, an error **and** a bounded queue (the list's capacity, oldest dropped with a `warn`) written back and published after the reconnect's full load | the token is refused here at once; the error tells the caller the others were not told *yet* (revoking twice is harmless); the queue makes the revocation fleet-wide once Redis is back instead of depending on a retry; `status().queued` shows it |
//! | after a reconnect's full load, write back every live local entry Redis does not hold | a Redis restarted empty (no persistence, failover) gets the fleet's list back, so an instance started later is not blind; entries are idempotent and expire by themselves, so duplicates are harmless; no persistence needed |
//! | Redis down: keep serving from the last snapshot, `warn`, `status()`; after 30 s the `OutagePolicy` applies (default `KeepServing`) | availability by default: everything revoked before the outage stays refused; `RefuseRequests` (503 `revocation_unavailable`, `Retry-After`) for services where a stale list is worse than downtime |
//! | `build()` waits for the first full load (5 s), else fails | a new instance has no snapshot to fall back on: starting empty would accept every revoked token |
//! | namespace `oauth2-guard`, limited to `A-Z a-z 0-9 . _ - :` | several services can share one Redis; no glob characters, so it is safe in a `SCAN MATCH` pattern |
//! | values hold ids and times only (`1 j 0 <exp> <jti>`), versioned | never a token in Redis; an instance skips (and logs) a format version it does not know instead of guessing |
//! # Introspection (opaque tokens, RFC 7662)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | endpoint | discovered (`introspection_endpoint`), HTTPS policy as for keys; never follows redirects | the server's word on where it answers; a 307 would re-send the token and our credentials |
//! | client authentication | required (`client_secret_basic`, `_post`, `private_key_jwt` with `aud` = the endpoint) | RFC 7662 §2.1: an unauthenticated endpoint is a token-scanning oracle |
//! | `active` | must be the boolean `true`; anything else is garbage (503) | a missing or stringly `active` is not a yes |
//! | `exp` | required, checked locally (with leeway), also on every cache hit | some servers answer active for expired tokens |
//! | `iss` | checked when sent; absent means the configured issuer | answers come from the configured endpoint, over an authenticated channel |
//! | `aud` | required, a configured audience; `client_id` stands in only with `audience_or_client_id` and no `aud` | a token for another API must not pass; some servers omit `aud` |
//! | `token_type` | when sent, `Bearer`/`DPoP`/`access_token` | a refresh token is not an access token |
//! | `cnf` | enforced as for JWTs: `cnf.jkt` needs a DPoP proof, other bindings refused (`sender_constrained`) | a bearer presentation proves no possession |
//! | cache TTL | 60 s, never past `exp` | one call per token per minute; revocation at the IdP seen within it |
//! | cache bounds | 10 000 answers and 16 MiB | bounded memory under a flood of distinct valid tokens |
//! | negative cache | off; when on, its own TTL and bound, a separate map | a refused token asks again; a flood of random tokens cannot evict active answers |
//! | cache key | HMAC-SHA256 of the token, random per-process key (settable per deployment) | the token is never stored; a shared store holds nothing usable |
//! | concurrent calls | 64; beyond: 503 + `Retry-After` at once | a cold flood costs the IdP a bounded load and the service no queue |
//! | single flight | one call per token in flight, in a task of its own | 100 first uses → 1 call; a client going away fails no one |
//! | timeout | 3 s per request, 4 s for the whole call | a slow IdP costs a bounded wait |
//! | failures (down, slow, 5xx, 401 to our credentials, garbage, > 64 KiB) | 503 `introspection_unavailable`, `Retry-After: 2`, WARN with fingerprint | fail closed without telling clients their token is bad |
//! | routing | a JWS of a configured issuer (its name, or its tenant template filled) or a trusted lazy one → JWT verifier; anything else → introspection, except as below | a damaged JWT of a known issuer is refused locally, never sent out |
//! | a JWS whose `iss` is another issuer than the introspector's | refused locally, `unknown_issuer`, no call (`introspect_unknown_jws(false)`) | a third party's token is not sent to an IdP that did not issue it, and the answer could only be "inactive"; `true` for an IdP that introspects tokens it issues under another `iss` |
//! | JWTs introspected | off (`introspect_jwts`) | a call per token per TTL is a cost only some deployments want |
//! | shared cache (Redis) | off (`shared_cache_redis`); when on, `hash_key` is required | sharing needs a secret common to the fleet; a random per-process key would share nothing and hide it |
//! | `hash_key` length | at least 32 bytes (`MIN_HASH_KEY_BYTES`), else `build()` fails | the HMAC key is what keeps a Redis dump from being a dictionary of tokens; 32 bytes is HMAC-SHA256's full strength, a short passphrase could be brute-forced offline against the stored hashes |
//! | shared cache namespace | `oauth2-guard` (`RedisIntrospectionCache::builder(..).namespace`), `A-Z a-z 0-9 . _ - :`, 1 to 64 | keys are `<namespace>:introspection:…`; give each group of services that shares answers its own so several can share one Redis; no glob characters |
//! | what Redis holds | the mapped claims, under `<namespace>:introspection:<scope>:<HMAC hex>`, expiring at min(TTL, `exp` − now) | neither the token nor a plain hash of it: a Redis dump gives nothing to present; the TTL never outlives the local promise |
//! | shared entry scope | a digest of issuer, audiences, `client_id` fallback and role paths | two services with one Redis and one key still never accept each other's tokens through the cache |
//! | shared entry read locally | kept no longer than it had left in Redis | a revocation at the IdP is seen within the TTL, however many instances relayed the answer |
//! | refusals in Redis | never | a flood of random tokens would become a flood of Redis writes; one instance's view must not lock a token out everywhere |
//! | Redis timeout / after a failure | 100 ms per command / Redis skipped for 1 s | a dead or slow Redis adds at most one short wait per second, never one per miss; the local cache and the IdP keep answering (WARN, `status()`) |
//! # gRPC (tonic)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | recognising a gRPC call | `content-type` `application/grpc`, `application/grpc+…`, `;…` or `-web…`, with or without the `grpc` feature | a tonic client reads an HTTP 401 with no `grpc-status` as a status it has to guess, and a streaming call as a successful empty stream; the content type is what gRPC itself keys on |
//! | the answer to a gRPC call | HTTP 200, trailers-only: `grpc-status` 16 (401), 7 (403), 14 (503), 3 (400), 13 (a guard without an `AuthLayer`) | the gRPC way to refuse a call before any message; the client sees a `Status`, not a transport error |
//! | `grpc-message` | one fixed, percent-encoded sentence per refusal (plus the reason code with `ErrorDetail::ReasonCode`; a role guard's refusal adds the missing role names from its configuration, as the HTTP body does) | nothing from the token, its claims or the keys can reach the client or its logs |
//! | `WWW-Authenticate`, `Retry-After` | kept, as metadata | the RFC 6750 challenge tells the client what to fix; `grpc-retry-pushback-ms` (gRFC A6) joins `Retry-After` on 503 so a retry policy waits |
//! | custom responders (`RejectionResponse` closures) | answer every request with what they return | a custom responder decides for itself; `RejectionResponse::response_to` sees the request |
//! | `MethodGuards`, unlisted method | refused, 403 / `PERMISSION_DENIED`, no challenge | a method or service added later is closed until someone decides who may call it; no token would help, so no challenge |
//! | `MethodGuards`, precedence | method rule, then service rule, then unlisted | the most specific declaration wins; a name listed twice is a `ConfigError`, so the policy never depends on call order |
//! | `GrpcBearerLayer`, retry on `UNAUTHENTICATED` | once, with a new token, for a body complete when sent and ≤ 64 KiB | a unary call can be sent again; a live stream cannot be buffered without risking a deadlock, so it is passed on and its refusal returned |
//! | `GrpcBearerLayer`, dropping the refused token | at most once per the source's `invalid_token_cooldown` (10 s) | a downstream that refuses every token must not turn each call into a token request |
//! | `GrpcBearerLayer`, token scheme | Bearer only: a DPoP-bound source (`ClientCredentialsBuilder::dpop`) is refused by `grpc_layer()` / `GrpcBearerLayer::new` with `ConfigError::ConflictingSettings` | a DPoP proof per gRPC call is not implemented, and `Authorization: DPoP` without one fails every call; refusing at construction beats a service that starts and then fails each call |
//! | `WWW-Authenticate` on a gRPC refusal | every challenge, one metadata entry each (`Bearer` and `DPoP` when the layer accepts both) | the client picks the scheme it can use, as with the HTTP answer |
//! | `grpc-retry-pushback-ms` | `Retry-After` × 1000 (whole seconds, at least 1 s) | the two headers always name the same wait, the one the HTTP answer names |
//!
//! # mTLS certificate-bound tokens (RFC 8705, feature `mtls`)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | `cnf["x5t#S256"]` | must equal the base64url SHA-256 of the request's client certificate (DER); `certificate_missing` / `certificate_mismatch` otherwise (401 `invalid_token`) | a token copied from a log or a proxy is useless without the certificate's private key (RFC 8705 §3) |
//! | thumbprint comparison | decoded to 32 bytes (canonical unpadded base64url only), compared in constant time | no padding, alphabet or length variant aliases another certificate; timing reveals nothing about the expected value |
//! | tokens without `cnf` | unaffected | RFC 8705 binds tokens that say so; requiring bound tokens is a `post_verify` hook on `is_sender_constrained()` |
//! | without the feature | `x5t#S256` refused (`sender_constrained`) | no certificate can be read, so no binding can be proven |
//! | `mtls::serve`: which certificates | the `ServerConfig`'s client verifier decides (required, or optional with `allow_unauthenticated`) | the CA policy belongs to the TLS configuration; the binding is checked either way |
//! | `mtls::serve`: handshake | 10 s (`HANDSHAKE_TIMEOUT`), each on its own task | a stalled or slow client cannot hold up the accept loop |
//! | `mtls::serve`: protocol | HTTP/1.1 | the smallest server; HTTP/2 would need ALPN and another hyper feature |
//! | `ForwardedCertLayer`: trusted proxies | required, no default; `/0` refused | a header any client can send proves nothing; a "trust everyone" block would defeat the binding |
//! | `ForwardedCertLayer`: other peers, or no `ConnectInfo` | header stripped, no certificate | nothing behind the layer ever reads a client-supplied copy; a wiring mistake fails closed (logged once at ERROR) |
//! | `ForwardedCertLayer`: malformed header, several XFCC elements or header lines, > 16 KiB | no certificate (WARN) | bounded parsing; the hop that saw the client is ambiguous in a chain |
//! | Envoy `Cert=` and `Hash=` | `Cert` used, a disagreeing `Hash` is malformed, `Hash` alone accepted | the certificate is the stronger evidence |
//! | metadata `tls_client_certificate_bound_access_tokens` | left out (false) | advertise only what the deployment checks |
//!
//! # Operations (metrics, readiness, audit)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | metrics | off (feature `metrics`) | no dependency and no cost for services that do not scrape; with it, any `metrics` exporter works |
//! | metric handles | registered at issuer / layer / guard build, with the recorder installed then | the request path only increments handles it holds: no registry lookup, no label hashing per request. An allowed request is counted through the handle its claims carry (their issuer's), a cache lookup through the cache's own; a refusal finds its issuer's counters in a lock-free list of the built issuers |
//! | cache-hit latency samples | 1 hit in 64 per thread goes into `oauth2_guard_verification_duration_seconds{kind="cache_hit"}`; every fresh verification and introspection is recorded | one Prometheus histogram sample costs about 0.4 µs, more than the cache hit it measures (0.7 µs with, 1.1 µs without sampling, criterion); the hit count is exact in `oauth2_guard_token_cache_requests_total` |
//! | `issuer` label | the name of a built issuer, else `unknown` | a refused token's `iss` is attacker-chosen: as a label it would let any client create series without bound |
//! | `required` label | the guard's declared requirement | bounded by the code; the token's scopes would be attacker-chosen |
//! | subject, token, `kid`, path | never labels | unbounded cardinality, and personal data in a metrics store |
//! | zero series | `allowed` and the six alert reasons (`bad_signature`, `expired`, `wrong_audience`, `unknown_key`, `malformed`, `keys_unavailable`) per issuer, JWKS fetch results, unknown-kid outcomes | `rate()` and alert rules need a series before the first event |
//! | key age | timestamp gauges (`…_jwks_last_success_timestamp_seconds`, `…_jwks_refresh_due_timestamp_seconds`, `…_jwks_stale_timestamp_seconds`), compared with `time()` in PromQL; static key sets register none of them | correct at every scrape without a timer; the refresh interval follows `max-age` (5 min..24 h), so "stale" is "past the deadline the store computed", never a fixed age; a static set is never refreshed, has no age, and never looks stale |
//! | outbound token alert | a timestamp gauge of when the cached token is due for refresh (`…_client_token_refresh_timestamp_seconds`); the critical rule fires a minute past it, or past expiry; a warning (`OAuth2GuardClientTokenFetchFailing`) fires at the first failed fetch | the client renews only min(30 s, 10 % of the lifetime) before expiry, so a "less than N minutes left" rule would fire in normal operation; the first failure is the earliest signal there is, and with a longer `refresh_margin` it comes minutes before expiry |
//! | readiness | every issuer has a usable key set within `max_stale`; with the checks you add, the introspection endpoint's last call did not fail (within `max_age`), the Redis revocation list in sync within a bound you give, the shared introspection cache's Redis reachable | an instance that would answer every token 503 should get no traffic |
//! | liveness | never depends on the IdP (serve a plain 200) | an IdP outage would otherwise restart every instance, which brings no key back |
//! | audit events | every decision, target `oauth2_guard::audit`; refusals at WARN, allowed at INFO | an audit trail must be complete by default; a dedicated target can go to its own sink |
//! | audit sampling | allowed decisions: all (`sample_allowed(1)`); refusals: never sampled | busy services may opt in to 1-in-N for allowed ones; refusals are what an investigation needs |
//! | audit content | subject, client, scopes/roles (space-separated), the roles a refused token lacks (`roles.missing`), method, matched route, fingerprint; an unlisted gRPC method's refusal as `rpc.service`/`rpc.method` | who did what where, answerable without the token: the token itself is never written |
//! | `http.route` | axum `MatchedPath` (the route template), never the raw path | raw paths hold identifiers and unbounded values |
//! | scope inventory | collected as guard layers are built, process-wide; the `HasScope`/`HasRole` extractors at their first use (they are types: nothing exists to record before a request runs one) | "which scopes does this service require" is answerable from a log line or the RFC 9728 metadata, not from reading code; "which routes need `orders:write`" from the guards' audit events, which carry `http.route` beside `scopes.required` (a guard layer is not told its route when it is built) |
