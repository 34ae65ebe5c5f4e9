// Test-only OpenID Connect provider for Tenantry's Rust integration tests.
//
// Wraps the certified `oidc-provider` package. Configured entirely through
// environment variables (see README.md):
//
//   OIDC_PORT       (required) TCP port on 127.0.0.1; "0" picks a free one
//   OIDC_KEYS       (required) "kid=/path/key.pem,kid2=/path/key2.pem"; the
//                   first key signs access tokens, all are published at jwks_uri
//   OIDC_CLIENTS    (required) JSON array of {"client_id","client_secret","claims"?};
//                   each client may use client_credentials with client_secret_basic
//                   or client_secret_post, and every access token issued to it
//                   carries its "claims" merged in at the top level
//   OIDC_AUDIENCE   resource indicator / access token "aud" (default urn:tenantry:api)
//   OIDC_TOKEN_TTL  access token lifetime in seconds (default 300)
//
// On success exactly one line is written to stdout: "ready <issuer>".
// Everything else (warnings, errors) goes to stderr.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

// Keep stdout reserved for the single "ready" line: anything that logs through
// console.log/info (including dependencies) is redirected to stderr.
console.log = console.error;
console.info = console.error;

function fail(message) {
  process.stderr.write(`oidc-provider harness: ${message}\n`);
  process.exit(1);
}

function requireEnv(name) {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    fail(`${name} is required`);
  }
  return value.trim();
}

function parsePort(raw) {
  if (!/^\d+$/.test(raw)) fail(`OIDC_PORT must be an integer 0..65535, got ${JSON.stringify(raw)}`);
  const port = Number(raw);
  if (port > 65535) fail(`OIDC_PORT must be an integer 0..65535, got ${raw}`);
  return port;
}

function parsePositiveInt(name, raw) {
  if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

// Map a node KeyObject to the JWS algorithm the harness signs with.
function algFor(keyObject, kid) {
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'rsa':
      // jose (used by oidc-provider to sign) refuses RS256 with smaller keys
      if (details.modulusLength < 2048) {
        return fail(`key ${kid}: RSA key is ${details.modulusLength} bits, RS256 needs at least 2048`);
      }
      return 'RS256';
    case 'ec':
      switch (details.namedCurve) {
        case 'prime256v1':
          return 'ES256';
        case 'secp384r1':
          return 'ES384';
        default:
          return fail(`key ${kid}: unsupported EC curve ${details.namedCurve}`);
      }
    case 'ed25519':
      return 'EdDSA';
    default:
      return fail(`key ${kid}: unsupported key type ${type} (use RSA, EC P-256/P-384 or Ed25519)`);
  }
}

function loadKeys(spec) {
  const keys = [];
  const seen = new Set();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      fail(`OIDC_KEYS entry ${JSON.stringify(entry)} is not of the form kid=/path/to/private.pem`);
    }
    const kid = entry.slice(0, eq).trim();
    const path = entry.slice(eq + 1).trim();
    if (seen.has(kid)) fail(`OIDC_KEYS: duplicate kid ${JSON.stringify(kid)}`);
    seen.add(kid);

    let pem;
    try {
      pem = fs.readFileSync(path);
    } catch (err) {
      fail(`key ${kid}: cannot read ${path}: ${err.message}`);
    }
    let keyObject;
    try {
      keyObject = crypto.createPrivateKey(pem);
    } catch (err) {
      fail(`key ${kid}: ${path} is not a PEM private key: ${err.message}`);
    }
    const alg = algFor(keyObject, kid);
    const jwk = keyObject.export({ format: 'jwk' });
    keys.push({ ...jwk, kid, use: 'sig', alg });
  }
  if (keys.length === 0) fail('OIDC_KEYS lists no keys');
  return keys;
}

const CLIENT_FIELDS = new Set(['client_id', 'client_secret', 'claims']);

function loadClients(raw) {
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    fail(`OIDC_CLIENTS is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) fail('OIDC_CLIENTS must be a non-empty JSON array');

  const seen = new Set();
  return parsed.map((c, i) => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) fail(`OIDC_CLIENTS[${i}] must be an object`);
    const unknown = Object.keys(c).filter((k) => !CLIENT_FIELDS.has(k));
    if (unknown.length) fail(`OIDC_CLIENTS[${i}]: unknown field(s) ${unknown.join(', ')} (allowed: ${[...CLIENT_FIELDS].join(', ')})`);
    const { client_id: clientId, client_secret: clientSecret, claims = {} } = c;
    if (typeof clientId !== 'string' || !clientId) fail(`OIDC_CLIENTS[${i}].client_id must be a non-empty string`);
    if (typeof clientSecret !== 'string' || !clientSecret) fail(`OIDC_CLIENTS[${i}].client_secret must be a non-empty string`);
    if (seen.has(clientId)) fail(`OIDC_CLIENTS: duplicate client_id ${JSON.stringify(clientId)}`);
    seen.add(clientId);
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
      fail(`OIDC_CLIENTS[${i}].claims must be a JSON object`);
    }
    return {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      // oidc-provider 9 accepts client_secret_post as well for a client
      // registered with client_secret_basic (both are shared-secret methods).
      token_endpoint_auth_method: 'client_secret_basic',
      // custom client metadata (registered through extraClientMetadata below)
      tenantry_claims: claims,
    };
  });
}

const port = parsePort(requireEnv('OIDC_PORT'));
const keys = loadKeys(requireEnv('OIDC_KEYS'));
const clients = loadClients(requireEnv('OIDC_CLIENTS'));
const audience = (process.env.OIDC_AUDIENCE ?? '').trim() || 'urn:tenantry:api';
const tokenTtl = parsePositiveInt('OIDC_TOKEN_TTL', (process.env.OIDC_TOKEN_TTL ?? '').trim() || '300');
const signingKey = keys[0];

const { default: Provider, errors } = await import('oidc-provider');

// Paths counted by /__test/hits (oidc-provider's default routes).
const JWKS_PATH = '/jwks';
const DISCOVERY_PATH = '/.well-known/openid-configuration';
// W3C `traceparent` headers of those requests, in order (the caller's trace propagation).
const hits = { jwks: 0, discovery: 0, traceparents: [] };

let handler = null;
const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' && pathname === '/__test/hits') {
    const body = JSON.stringify(hits);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
    return;
  }
  if (req.method === 'GET' && (pathname === JWKS_PATH || pathname === DISCOVERY_PATH)) {
    if (pathname === JWKS_PATH) hits.jwks += 1;
    else hits.discovery += 1;
    if (req.headers.traceparent) hits.traceparents.push(req.headers.traceparent);
  }
  if (!handler) {
    res.writeHead(503).end();
    return;
  }
  handler(req, res);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`oidc-provider harness: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });

const issuer = `http://127.0.0.1:${server.address().port}`;

let provider;
try {
  provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    findAccount: async () => undefined,
    extraClientMetadata: {
      properties: ['tenantry_claims'],
      validator(_ctx, key, value) {
        if (key === 'tenantry_claims' && value !== undefined
          && (value === null || typeof value !== 'object' || Array.isArray(value))) {
          throw new errors.InvalidClientMetadata('tenantry_claims must be a JSON object');
        }
      },
    },
    // Merge the client's configured claims into every access token issued to it.
    async extraTokenClaims(ctx, token) {
      const client = ctx?.oidc?.client?.clientId === token.clientId
        ? ctx.oidc.client
        : await provider.Client.find(token.clientId);
      const claims = client?.metadata().tenantry_claims;
      return claims ? structuredClone(claims) : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== audience) {
            throw new errors.InvalidTarget(`unknown resource indicator (only ${audience} is served)`);
          }
          return {
            scope: '',
            audience,
            accessTokenTTL: tokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signingKey.alg, kid: signingKey.kid } },
          };
        },
      },
    },
    ttl: { ClientCredentials: tokenTtl },
    // Only the algorithms of the loaded keys are enabled; a client's (unused)
    // id_token_signed_response_alg must be one that a key can produce.
    enabledJWA: {
      idTokenSigningAlgValues: [...new Set(keys.map((k) => k.alg))],
    },
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      id_token_signed_response_alg: signingKey.alg,
      token_endpoint_auth_method: 'client_secret_basic',
    },
  });
} catch (err) {
  server.close();
  fail(`cannot configure oidc-provider: ${err.stack || err.message}`);
}

provider.on('server_error', (_ctx, err) => {
  process.stderr.write(`oidc-provider server_error: ${err.stack || err}\n`);
});
provider.on('grant.error', (_ctx, err) => {
  process.stderr.write(`oidc-provider grant.error: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}\n`);
});

// Static clients are validated lazily by oidc-provider; validate them now so a
// bad configuration fails at startup instead of at the first token request.
for (const { client_id: clientId } of clients) {
  try {
    if (!await provider.Client.find(clientId)) throw new Error('not found after registration');
  } catch (err) {
    server.close();
    fail(`client ${clientId}: invalid configuration: ${err.error_description || err.message}`);
  }
}

handler = provider.callback();

process.stdout.write(`ready ${issuer}\n`);
