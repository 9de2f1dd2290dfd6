#!/usr/bin/env node
// Headless Authorization Code + PKCE (S256) flow against provider.mjs, through its
// devInteractions login and consent forms, with a small cookie jar.
// Prints ONLY the access token (a JWT) on stdout; diagnostics go to stderr.
// Exit codes: 0 ok, 1 flow failed, 2 bad usage.
//
// Env (all optional):
//   ISSUER               default http://127.0.0.1:${PORT:-9400}
//   PKCE_CLIENT_ID       default pkce-public   (public client, token_endpoint_auth_method none)
//   PKCE_CLIENT_SECRET   for pkce-confidential: secret-pkce-confidential (sent as Basic)
//   PKCE_RESOURCE        default urn:oauth2-guard:orders
//   PKCE_SCOPE           default "openid orders:read orders:write"
//   PKCE_LOGIN           account id / sub to log in as, default alice
//   PKCE_REDIRECT_URI    default http://127.0.0.1:9401/cb  (never contacted: the code is read
//                        from the Location header)
//   PKCE_DEBUG=1         trace each HTTP step on stderr
// Flags: --json prints the whole token response (JSON) instead of the bare access token
//        (and skips the is-a-JWT check, e.g. for PKCE_RESOURCE=urn:oauth2-guard:opaque).

import { createHash, randomBytes } from 'node:crypto';

const ISSUER = (process.env.ISSUER || `http://127.0.0.1:${process.env.PORT || '9400'}`).replace(/\/$/, '');
const CLIENT_ID = process.env.PKCE_CLIENT_ID || 'pkce-public';
const CLIENT_SECRET = process.env.PKCE_CLIENT_SECRET || '';
const RESOURCE = process.env.PKCE_RESOURCE || 'urn:oauth2-guard:orders';
const SCOPE = process.env.PKCE_SCOPE || 'openid orders:read orders:write';
const LOGIN = process.env.PKCE_LOGIN || 'alice';
const REDIRECT_URI = process.env.PKCE_REDIRECT_URI || 'http://127.0.0.1:9401/cb';
const DEBUG = process.env.PKCE_DEBUG === '1';
const JSON_OUT = process.argv.includes('--json');
const TIMEOUT_MS = 10_000;

function fail(msg) {
  process.stderr.write(`pkce.mjs: ${msg}\n`);
  process.exit(1);
}

function debug(msg) {
  if (DEBUG) process.stderr.write(`pkce.mjs: ${msg}\n`);
}

// --- minimal cookie jar: name+path keyed, path-prefix matching, single host ---
const jar = new Map(); // `${path}\n${name}` -> { name, value, path }

function storeCookies(res, url) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = '/';
    let expired = false;
    for (const attr of attrs) {
      const [k, v = ''] = attr.split('=');
      const key = k.trim().toLowerCase();
      if (key === 'path') path = v.trim() || '/';
      if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      if (key === 'max-age' && Number(v) <= 0) expired = true;
    }
    if (!attrs.some((a) => a.trim().toLowerCase().startsWith('path='))) {
      // default-path per RFC 6265 5.1.4
      const p = new URL(url).pathname;
      path = p.lastIndexOf('/') > 0 ? p.slice(0, p.lastIndexOf('/')) : '/';
    }
    const key = `${path}\n${name}`;
    if (expired) jar.delete(key);
    else jar.set(key, { name, value, path });
  }
}

function cookieHeader(url) {
  const { pathname } = new URL(url);
  const matching = [...jar.values()].filter((c) => pathname === c.path
    || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
  matching.sort((a, b) => b.path.length - a.path.length);
  return matching.map((c) => `${c.name}=${c.value}`).join('; ');
}

async function request(method, url, { body, headers = {} } = {}) {
  const h = { ...headers };
  const cookie = cookieHeader(url);
  if (cookie) h.cookie = cookie;
  if (body) h['content-type'] = 'application/x-www-form-urlencoded';
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: h,
      body: body ? new URLSearchParams(body).toString() : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    fail(`${method} ${url}: ${err.cause?.message || err.message} (is the provider running at ${ISSUER}?)`);
  }
  storeCookies(res, url);
  debug(`${method} ${url} -> ${res.status} ${res.headers.get('location') || ''}`);
  return res;
}

/** Short readable text from a (possibly HTML) body, for error messages. */
function summarize(text) {
  return text.replace(/<(style|script|head)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 400);
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function decodeHtml(s) {
  return s.replace(/&amp;/g, '&').replace(/&#x2F;/g, '/').replace(/&#47;/g, '/')
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Parse the first <form> with method=post: its action and hidden inputs. */
function parseForm(html) {
  const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  if (!form) return undefined;
  const action = form[1].match(/\baction="([^"]*)"/i);
  const fields = {};
  for (const input of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const name = input[1].match(/\bname="([^"]*)"/i);
    const value = input[1].match(/\bvalue="([^"]*)"/i);
    const type = input[1].match(/\btype="([^"]*)"/i);
    if (name && type && type[1].toLowerCase() === 'hidden') {
      fields[decodeHtml(name[1])] = value ? decodeHtml(value[1]) : '';
    }
  }
  return { action: action ? decodeHtml(action[1]) : undefined, fields };
}

async function main() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));

  const discoveryRes = await request('GET', `${ISSUER}/.well-known/openid-configuration`);
  if (!discoveryRes.ok) fail(`discovery answered ${discoveryRes.status}`);
  const discovery = await discoveryRes.json();

  const auth = new URL(discovery.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    resource: RESOURCE,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    prompt: 'consent',
  }).toString();

  // Follow redirects; on an interaction page, submit its form (login first, then consent).
  let url = auth.toString();
  let method = 'GET';
  let body;
  let code;
  const submitted = [];
  for (let step = 0; step < 20; step += 1) {
    const res = await request(method, url, { body });
    method = 'GET';
    body = undefined;
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      if (!location) fail(`${res.status} without Location at ${url}`);
      const next = new URL(location, url);
      if (next.href.startsWith(REDIRECT_URI)) {
        const p = next.searchParams;
        if (p.get('error')) fail(`authorization error: ${p.get('error')}: ${p.get('error_description') || ''}`);
        if (p.get('state') !== state) fail('state mismatch in redirect');
        code = p.get('code');
        if (!code) fail(`no code in redirect ${next.href}`);
        break;
      }
      url = next.href;
      continue;
    }
    const text = await res.text();
    if (res.status !== 200) fail(`${res.status} at ${url}: ${summarize(text)}`);
    const form = parseForm(text);
    if (!form || !form.action) fail(`no form on page ${url}: ${summarize(text)}`);
    const prompt = form.fields.prompt;
    if (prompt === 'login') {
      body = { ...form.fields, login: LOGIN, password: 'any' };
    } else if (prompt === 'consent') {
      body = { ...form.fields };
    } else {
      fail(`unexpected interaction form (prompt=${prompt}) at ${url}`);
    }
    if (submitted.filter((x) => x === prompt).length >= 2) fail(`interaction loop on prompt ${prompt}`);
    submitted.push(prompt);
    url = new URL(form.action, url).href;
    method = 'POST';
  }
  if (!code) fail('no authorization code after 20 steps');

  const headers = {};
  const tokenBody = {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    resource: RESOURCE,
  };
  if (CLIENT_SECRET) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
  } else {
    tokenBody.client_id = CLIENT_ID;
  }
  const tokenRes = await request('POST', discovery.token_endpoint, { body: tokenBody, headers });
  const tokenText = await tokenRes.text();
  if (!tokenRes.ok) fail(`token endpoint ${tokenRes.status}: ${tokenText}`);
  const tokens = JSON.parse(tokenText);
  if (!JSON_OUT && (typeof tokens.access_token !== 'string' || tokens.access_token.split('.').length !== 3)) {
    fail(`access_token is not a JWT: ${tokenText}`);
  }
  process.stdout.write(JSON_OUT ? `${tokenText}\n` : `${tokens.access_token}\n`);
}

main().catch((err) => fail(err.stack || String(err)));
