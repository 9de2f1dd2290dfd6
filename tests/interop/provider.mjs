#!/usr/bin/env node
// Test-only OpenID provider (node-oidc-provider 8.x) for oauth2-guard interop tests.
// NOT for production: in-memory storage, devInteractions, fixed client secrets.
//
// Env:
//   PORT        listen port, default 9400; binds 127.0.0.1 only
//   KEYS_FILE   private JWKS file; created (one key per alg) if missing.
//               default: ./.state/keys.json next to this file
//   AT_TTL      access-token lifetime in seconds, default 300
//   TLS_KEY, TLS_CERT, TLS_CA  PEM files; when TLS_CERT is set the provider serves HTTPS
//               (issuer https://127.0.0.1:<port>), asks every client for a certificate of
//               TLS_CA (optional: discovery and JWKS work without one) and turns on the mTLS
//               feature (RFC 8705) with the certificate-bound client `mtls-bound`
//
// stdout: "READY http://127.0.0.1:<port>" once listening; "RELOADED <kids>" after SIGHUP.
// SIGHUP re-reads KEYS_FILE and swaps in a new Provider on the same port (stored tokens
// survive: the dev in-memory adapter's store is module-global), so a key rotation does not
// need a restart. A restart works just as well.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

import { ALGS, loadOrCreate } from './keys.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '9400', 10);
// --- mTLS (RFC 8705): only with TLS_CERT; without it the provider is plain HTTP as before.
const TLS = process.env.TLS_CERT ? {
  key: readFileSync(process.env.TLS_KEY),
  cert: readFileSync(process.env.TLS_CERT),
  ca: readFileSync(process.env.TLS_CA),
  // Ask for a client certificate, but let clients without one in (discovery, JWKS,
  // unbound clients): the token endpoint decides, through `getCertificate` below.
  requestCert: true,
  rejectUnauthorized: false,
} : undefined;
const mtlsClients = TLS ? [{
  // client_secret_basic, every access token bound to the certificate of the token request
  client_id: 'mtls-bound',
  client_secret: 'secret-mtls-bound',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  tls_client_certificate_bound_access_tokens: true,
  access_token_alg: 'ES256',
}] : [];
const mtlsFeature = TLS ? {
  mTLS: {
    enabled: true,
    certificateBoundAccessTokens: true,
    // Only a certificate that TLS_CA vouches for; `undefined` makes a bound client's token
    // request fail with invalid_grant ("mutual TLS client certificate not provided").
    getCertificate(ctx) {
      const socket = ctx.socket;
      return socket.authorized ? socket.getPeerX509Certificate() : undefined;
    },
  },
} : {};
// --- end mTLS
const ISSUER = `${TLS ? 'https' : 'http'}://${HOST}:${PORT}`;
const KEYS_FILE = process.env.KEYS_FILE || join(here, '.state', 'keys.json');
const AT_TTL = Number.parseInt(process.env.AT_TTL || '300', 10);

export const RESOURCE_ORDERS = 'urn:oauth2-guard:orders';
export const RESOURCE_OTHER = 'urn:oauth2-guard:other';
export const RESOURCE_OPAQUE = 'urn:oauth2-guard:opaque';
// A second opaque-token resource: its tokens must be refused by an API whose audience is RESOURCE_OPAQUE.
export const RESOURCE_OPAQUE_OTHER = 'urn:oauth2-guard:opaque-other';
const RESOURCE_SCOPE = 'orders:read orders:write';
const JWT_RESOURCES = new Set([RESOURCE_ORDERS, RESOURCE_OTHER]);
const OPAQUE_RESOURCES = new Set([RESOURCE_OPAQUE, RESOURCE_OPAQUE_OTHER]);

// Per-client access-token signing alg lives in custom client metadata `access_token_alg`.
const ccClients = ALGS.map((alg) => {
  const id = `cc-${alg.toLowerCase()}`;
  return {
    client_id: id,
    client_secret: `secret-${id}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    access_token_alg: alg,
  };
});

const clients = [
  ...ccClients,
  {
    client_id: 'cc-post',
    client_secret: 'secret-cc-post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    access_token_alg: 'RS256',
  },
  {
    // public client, Authorization Code + PKCE (S256), driven by pkce.mjs
    client_id: 'pkce-public',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9401/cb'],
    token_endpoint_auth_method: 'none',
    access_token_alg: 'ES256',
  },
  {
    // confidential client, Authorization Code + PKCE (S256): `PKCE_CLIENT_ID=pkce-confidential`
    client_id: 'pkce-confidential',
    client_secret: 'secret-pkce-confidential',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9401/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
    access_token_alg: 'PS256',
  },
  {
    // resource-server credentials for the introspection/revocation endpoints only
    client_id: 'rs-introspect',
    client_secret: 'secret-rs-introspect',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  ...mtlsClients,
];

function configuration(jwks) {
  return {
    clients,
    jwks,
    cookies: { keys: ['interop-test-cookie-key-not-secret'] },
    extraClientMetadata: {
      properties: ['access_token_alg'],
      validator(ctx, key, value) {
        if (key === 'access_token_alg' && value !== undefined && !ALGS.includes(value)) {
          throw new errors.InvalidClientMetadata(`access_token_alg must be one of ${ALGS.join(', ')}`);
        }
      },
    },
    // ES384 is not in oidc-provider's default enabled list; a key whose alg is not enabled
    // anywhere is rejected at start ("is of no use").
    enabledJWA: {
      idTokenSigningAlgValues: [...ALGS],
      introspectionSigningAlgValues: [...ALGS],
      userinfoSigningAlgValues: [...ALGS],
      authorizationSigningAlgValues: [...ALGS],
    },
    pkce: {
      methods: ['S256'],
      required: () => true,
    },
    scopes: ['openid', 'offline_access'],
    ttl: {
      AccessToken: AT_TTL,
      ClientCredentials: AT_TTL,
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      ...mtlsFeature,
      introspection: { enabled: true },
      revocation: { enabled: true },
      // RFC 9449: a token request with a DPoP proof gets a DPoP-bound token
      // (token_type DPoP, cnf.jkt in the JWT); without a proof, Bearer as before.
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource(ctx, client, oneOf) {
          if (oneOf) return oneOf[0];
          return RESOURCE_ORDERS;
        },
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator, client) {
          if (JWT_RESOURCES.has(resourceIndicator)) {
            return {
              scope: RESOURCE_SCOPE,
              audience: resourceIndicator,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: client.access_token_alg || 'RS256' } },
              accessTokenTTL: AT_TTL,
            };
          }
          if (OPAQUE_RESOURCES.has(resourceIndicator)) {
            return {
              scope: RESOURCE_SCOPE,
              audience: resourceIndicator,
              accessTokenFormat: 'opaque',
              accessTokenTTL: AT_TTL,
            };
          }
          throw new errors.InvalidTarget();
        },
      },
    },
  };
}

function buildProvider() {
  const jwks = loadOrCreate(KEYS_FILE);
  const provider = new Provider(ISSUER, configuration(jwks));
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`server_error: ${err.stack || err}\n`);
  });
  return { handler: provider.callback(), kids: jwks.keys.map((k) => k.kid) };
}

let current = buildProvider();

const handle = (req, res) => current.handler(req, res);
const server = TLS ? createTlsServer(TLS, handle) : createServer(handle);
server.listen(PORT, HOST, () => {
  process.stdout.write(`READY ${ISSUER}\n`);
  process.stdout.write(`KEYS ${KEYS_FILE} ${current.kids.join(' ')}\n`);
});

process.on('SIGHUP', () => {
  try {
    current = buildProvider();
    process.stdout.write(`RELOADED ${current.kids.join(' ')}\n`);
  } catch (err) {
    process.stderr.write(`reload failed, keeping old keys: ${err.message}\n`);
  }
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
