#!/usr/bin/env node
// Key-file helper for the interop provider.
//
// The key file is a JWKS of PRIVATE JWKs: {"keys": [ {kty, kid, alg, use:"sig", ...private members} ]}.
// provider.mjs reads it once at start (and again on SIGHUP).
//
// How oidc-provider 8.x picks the signing key for a JWT access token
// (lib/models/formats/jwt.js + lib/helpers/keystore.js):
//   keystore.selectForVerify({ alg, use: 'sig', kid: resourceServer.jwt.sign.kid })
//   = keys in jwks ORDER, filtered to those compatible with `alg` (kty; crv for ES*/EdDSA;
//     `alg` member equal if present; `use` equal to "sig" if present; key_ops incl. the op),
//   then STABLE-sorted by a score (+1 if the key has `alg`, +1 if it has `use`), and the
//   first one wins. We never set jwt.sign.kid, and every key here carries both `alg` and
//   `use`, so: **the first key in the file whose `alg` matches signs.** The tests rely on that.
//
// Usage:
//   node keys.mjs gen     <file> [--force]        one key per alg (RS256 PS256 ES256 ES384 EdDSA)
//   node keys.mjs add     <file> <ALG> [kid]      generate a key, APPEND it (published, not used)
//   node keys.mjs promote <file> <kid>            move key to the FRONT (now signs for its alg)
//   node keys.mjs remove  <file> <kid>            drop a key (no longer published)
//   node keys.mjs list    <file>                  "kid alg" per line, in file order
//   node keys.mjs public  <file>                  public JWKS (JSON) on stdout
// `add` prints the new kid on stdout.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  existsSync, mkdirSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

const PUBLIC_MEMBERS = ['kty', 'kid', 'use', 'alg', 'crv', 'n', 'e', 'x', 'y'];

export function generateKey(alg, kid) {
  let pair;
  switch (alg) {
    case 'RS256':
    case 'PS256':
      pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    case 'ES256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'ES384':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      break;
    case 'EdDSA':
      pair = generateKeyPairSync('ed25519');
      break;
    default:
      throw new Error(`unsupported alg ${alg} (supported: ${ALGS.join(' ')})`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return {
    kid: kid || `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`,
    alg,
    use: 'sig',
    ...jwk,
  };
}

export function generateKeySet() {
  return { keys: ALGS.map((alg) => generateKey(alg)) };
}

export function readKeys(file) {
  const jwks = JSON.parse(readFileSync(file, 'utf8'));
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error(`${file}: not a JWKS ({"keys": [...]})`);
  const seen = new Set();
  for (const k of jwks.keys) {
    if (!k.kid || !k.alg) throw new Error(`${file}: every key needs "kid" and "alg"`);
    if (seen.has(k.kid)) throw new Error(`${file}: duplicate kid ${k.kid}`);
    seen.add(k.kid);
  }
  return jwks;
}

export function writeKeys(file, jwks) {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function publicJwks(jwks) {
  return {
    keys: jwks.keys.map((k) => Object.fromEntries(
      PUBLIC_MEMBERS.filter((m) => k[m] !== undefined).map((m) => [m, k[m]]),
    )),
  };
}

/** Read the key file, creating it (one key per alg) when it does not exist. */
export function loadOrCreate(file) {
  if (!existsSync(file)) {
    writeKeys(file, generateKeySet());
  }
  return readKeys(file);
}

function die(msg) {
  process.stderr.write(`keys.mjs: ${msg}\n`);
  process.exit(2);
}

function findIndex(jwks, kid, file) {
  const i = jwks.keys.findIndex((k) => k.kid === kid);
  if (i < 0) die(`no key with kid ${kid} in ${file}`);
  return i;
}

function main(argv) {
  const [cmd, file, ...rest] = argv;
  if (!cmd || !file) die('usage: keys.mjs gen|add|promote|remove|list|public <file> [...]');
  switch (cmd) {
    case 'gen': {
      if (existsSync(file) && !rest.includes('--force')) die(`${file} exists (use --force to overwrite)`);
      const jwks = generateKeySet();
      writeKeys(file, jwks);
      for (const k of jwks.keys) process.stdout.write(`${k.kid} ${k.alg}\n`);
      break;
    }
    case 'add': {
      const [alg, kid] = rest;
      if (!alg) die('usage: keys.mjs add <file> <ALG> [kid]');
      const jwks = readKeys(file);
      if (kid && jwks.keys.some((k) => k.kid === kid)) die(`kid ${kid} already present`);
      const key = generateKey(alg, kid);
      jwks.keys.push(key);
      writeKeys(file, jwks);
      process.stdout.write(`${key.kid}\n`);
      break;
    }
    case 'promote': {
      const [kid] = rest;
      const jwks = readKeys(file);
      const [key] = jwks.keys.splice(findIndex(jwks, kid, file), 1);
      jwks.keys.unshift(key);
      writeKeys(file, jwks);
      break;
    }
    case 'remove': {
      const [kid] = rest;
      const jwks = readKeys(file);
      jwks.keys.splice(findIndex(jwks, kid, file), 1);
      writeKeys(file, jwks);
      break;
    }
    case 'list':
      for (const k of readKeys(file).keys) process.stdout.write(`${k.kid} ${k.alg}\n`);
      break;
    case 'public':
      process.stdout.write(`${JSON.stringify(publicJwks(readKeys(file)), null, 2)}\n`);
      break;
    default:
      die(`unknown command ${cmd}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    die(err.message);
  }
}
