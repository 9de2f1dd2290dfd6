#!/usr/bin/env node
// An independent DPoP client (panva's `jose`, the library oidc-provider itself
// uses) for the interop tests: obtains a DPoP-bound client-credentials token
// and signs proofs for one request, so the Rust side checks proofs it did not make.
//
//   node dpop-client.mjs <issuer> <client_id> <resource> <method> <url>
//
// Client secret: `secret-<client_id>` (client_secret_basic), as provider.mjs
// registers it. A `use_dpop_nonce` answer is retried once with its nonce.
// stdout: one JSON line {token_type, access_token, jkt, proof, proof2}; two
// proofs for the same request (distinct jti), both with `ath` of the token.
import { createHash, randomUUID } from 'node:crypto';

import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

const [issuer, clientId, resource, method, url] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: dpop-client.mjs <issuer> <client_id> <resource> <method> <url>\n');
  process.exit(2);
}

const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);

async function proof(htm, htu, accessToken, nonce) {
  const claims = { htm, htu };
  if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
  if (nonce) claims.nonce = nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .setJti(randomUUID())
    .sign(privateKey);
}

const tokenEndpoint = `${issuer}/token`;
const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(`secret-${clientId}`)}`).toString('base64');

async function tokenRequest(nonce) {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof('POST', tokenEndpoint, undefined, nonce),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'orders:read' }),
    signal: AbortSignal.timeout(20000),
  });
  return { response, body: await response.json() };
}

let { response, body } = await tokenRequest();
if (response.status === 400 && body.error === 'use_dpop_nonce') {
  ({ response, body } = await tokenRequest(response.headers.get('dpop-nonce')));
}
if (!response.ok) {
  process.stderr.write(`token endpoint answered ${response.status}: ${JSON.stringify(body)}\n`);
  process.exit(1);
}

process.stdout.write(`${JSON.stringify({
  token_type: body.token_type,
  access_token: body.access_token,
  jkt: await calculateJwkThumbprint(jwk, 'sha256'),
  proof: await proof(method, url, body.access_token),
  proof2: await proof(method, url, body.access_token),
})}\n`);
