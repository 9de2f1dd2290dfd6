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
//! | `cnf` claim (a key or certificate binding: `jkt`, `x5t#S256`, `jwk`, …) | refused with reason `sender_constrained` | a bearer presentation proves no possession; accepting it would make a stolen bound token usable (RFC 9449 §7.2, RFC 8705 §3). DPoP and mTLS proofs are checked once the crate supports them |
//!
//! # Keys
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | key lookup | one `ArcSwap` load + hash lookup | no lock and no I/O on the request path |
//! | refresh | `Cache-Control: max-age` clamped to 5 min..24 h, 1 h without it | honour the IdP, but never hammer it nor keep a removed key for days |
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
//! | DPoP / mTLS fields | never emitted | advertising a binding the crate does not verify would be a false promise |
//! | `resource_metadata` in `WWW-Authenticate` | only with `AuthLayerBuilder::resource_metadata`; then in 401 and 403 `insufficient_scope` answers, not 400/503 | the answers after which a client needs another token; the URL is checked for quotes and backslashes as it is sent in a quoted parameter |
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
//! # gRPC (tonic)
//!
//! | behaviour | default | reason |
//! |---|---|---|
//! | recognising a gRPC call | `content-type` `application/grpc`, `application/grpc+…`, `;…` or `-web…`, with or without the `grpc` feature | a tonic client reads an HTTP 401 with no `grpc-status` as a status it has to guess, and a streaming call as a successful empty stream; the content type is what gRPC itself keys on |
//! | the answer to a gRPC call | HTTP 200, trailers-only: `grpc-status` 16 (401), 7 (403), 14 (503), 3 (400), 13 (a guard without an `AuthLayer`) | the gRPC way to refuse a call before any message; the client sees a `Status`, not a transport error |
//! | `grpc-message` | one fixed, percent-encoded sentence per refusal (plus the reason code with `ErrorDetail::ReasonCode`) | nothing from the token, its claims or the keys can reach the client or its logs |
//! | `WWW-Authenticate`, `Retry-After` | kept, as metadata | the RFC 6750 challenge tells the client what to fix; `grpc-retry-pushback-ms` (gRFC A6) joins `Retry-After` on 503 so a retry policy waits |
//! | custom responders (`RejectionResponse` closures) | answer every request with what they return | a custom responder decides for itself; `RejectionResponse::response_to` sees the request |
//! | `MethodGuards`, unlisted method | refused, 403 / `PERMISSION_DENIED`, no challenge | a method or service added later is closed until someone decides who may call it; no token would help, so no challenge |
//! | `MethodGuards`, precedence | method rule, then service rule, then unlisted | the most specific declaration wins; a name listed twice is a `ConfigError`, so the policy never depends on call order |
//! | `GrpcBearerLayer`, retry on `UNAUTHENTICATED` | once, with a new token, for a body complete when sent and ≤ 64 KiB | a unary call can be sent again; a live stream cannot be buffered without risking a deadlock, so it is passed on and its refusal returned |
//! | `GrpcBearerLayer`, dropping the refused token | at most once per the source's `invalid_token_cooldown` (10 s) | a downstream that refuses every token must not turn each call into a token request |
