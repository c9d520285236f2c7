/**
 * Hostile access tokens, property-based (fast-check): random bytes, mutations of valid tokens,
 * header and claim type confusion signed with AuthKit's own key, oversized tokens. The verifier
 * must refuse with a TokenRejectedError (a 401), never throw anything else, and whatever it does
 * accept must satisfy every rule (issuer, audience, times, subject, RS256 by the trusted key).
 * Over HTTP: always 401 with the right WWW-Authenticate, never a 5xx, never accepted.
 */
import { KeyObject, sign as rsaSign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import request from 'supertest';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { loadConfig } from '../../src/config/app-config';
import { AccessTokenVerifier, type VerifiedAccessToken } from '../../src/mcp/auth/access-token-verifier';
import { JwksKeyStore } from '../../src/mcp/auth/jwks-key-store';
import { REJECTION_DESCRIPTIONS, TokenRejectedError } from '../../src/mcp/auth/token-errors';
import { Clock } from '../../src/mcp/clock';
import { mcpSettingsFrom } from '../../src/mcp/mcp-settings';
import { startUpstreamMcp, type UpstreamMcp } from '../fixtures/upstream-mcp';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { MCP_HEADERS, startBridge, startWorld, toolCall, type Bridge, type McpWorld } from '../mcp/helpers';
import { FakeClock, FakeFetch, jwks, testKey, type TestKey } from '../mcp/keys';

const ISSUER = 'https://acme.authkit.app';
const JWKS_URL = `${ISSUER}/oauth2/jwks`;
const AUDIENCE = 'https://bridge.example.com/mcp';
const EVIL = 'https://evil.example.com/jwks';
const TOLERANCE = 5;

const b64 = (part: unknown) =>
  Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url');

/** A compact JWS with any header and payload (jose refuses to build hostile ones), RS256-signed by `signer`. */
function jws(header: unknown, payload: unknown, signer: TestKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${rsaSign('sha256', Buffer.from(input), KeyObject.from(signer.privateKey)).toString('base64url')}`;
}

/** Values of the wrong type or shape for any claim or header parameter. */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, '', ' ', '0', 'null', '[]', '{}', 'NaN'),
  fc.constantFrom('\u0000', '\u202e', '\ud83d\ude00', 'é'.normalize('NFD'), '\r\nX-Injected: 1'),
  fc.string({ maxLength: 3000 }).map((s) => s.padEnd(3000, 'x')),
);

describe('the access-token verifier under hostile input (property-based)', () => {
  let key: TestKey;
  let attacker: TestKey;
  let clock: FakeClock;
  let fetch: FakeFetch;
  let verifier: AccessTokenVerifier;

  beforeAll(async () => {
    key = await testKey('sso_oidc_key_pair_01TRUSTED');
    attacker = await testKey('sso_oidc_key_pair_01EVIL');
    clock = new FakeClock();
    fetch = new FakeFetch();
    fetch.documents.set(JWKS_URL, jwks(key));
    // Every unknown kid refetches here (no cooldown), so that the property below also covers the
    // refetch path: it must only ever fetch AuthKit's own JWKS URL. The spacing is tested elsewhere.
    const settings = {
      ...mcpSettingsFrom(
        loadConfig({
          PUBLIC_URL: 'https://bridge.example.com',
          AUTHKIT_DOMAIN: ISSUER,
          WORKOS_API_KEY: 'sk_test_1',
          WORKOS_CLIENT_ID: 'client_1',
        }),
      ),
      jwksRefetchIntervalMs: 0,
      jwksCooldownMs: 0,
    };
    verifier = new AccessTokenVerifier(
      settings,
      new JwksKeyStore(settings, fetch.fn, clock as unknown as Clock),
      clock as unknown as Clock,
    );
  });

  /** The verifier's answer: the verified token, or the rejection reason; anything else fails the test. */
  async function outcome(token: string): Promise<VerifiedAccessToken | string> {
    try {
      return await verifier.verify(token);
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      return err.reason;
    }
  }

  const validClaims = () => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user_01ABC',
    client_id: 'client_01XYZ',
    scope: 'openid profile email',
    iat: clock.seconds,
    exp: clock.seconds + 300,
  });

  it('refuses random strings and bytes as tokens, with a rejection (never another error)', async () => {
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')),
      fc
        .array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 5 })
        .map((parts) => parts.map((p) => Buffer.from(p).toString('base64url')).join('.')),
      fc.array(fc.jsonValue(), { minLength: 3, maxLength: 3 }).map((parts) => parts.map(b64).join('.')),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (token) => {
        expect(typeof (await outcome(token))).toBe('string');
      }),
      { numRuns: 400 },
    );
  });

  it('accepts a mutated valid token only when it still says exactly what was signed', async () => {
    const original = jws({ alg: 'RS256', kid: key.kid, typ: 'JWT' }, validClaims(), key);
    const signedClaims = JSON.stringify(validClaims());
    const mutation = fc.oneof(
      // replace one character
      fc
        .tuple(fc.nat(original.length - 1), fc.constantFrom(...'AbZz09-_.=+/ '))
        .map(([i, c]) => original.slice(0, i) + c + original.slice(i + 1)),
      // truncate, or drop a part
      fc.nat(original.length - 1).map((n) => original.slice(0, n)),
      fc.nat(2).map((i) =>
        original
          .split('.')
          .filter((_, j) => j !== i)
          .join('.'),
      ),
      // append or insert junk
      fc.string({ maxLength: 10 }).map((s) => original + s),
      fc
        .tuple(fc.nat(original.length), fc.string({ minLength: 1, maxLength: 5 }))
        .map(([i, s]) => original.slice(0, i) + s + original.slice(i)),
      // reorder the parts
      fc
        .constantFrom([1, 0, 2], [0, 2, 1], [2, 1, 0])
        .map((o) => o.map((i) => original.split('.')[i]).join('.')),
      // a payload of our own choosing under the original signature
      fc.dictionary(fc.string({ maxLength: 8 }), hostile, { maxKeys: 4 }).map((extra) => {
        const [h, , s] = original.split('.');
        return `${h}.${b64({ ...validClaims(), ...extra })}.${s}`;
      }),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (token) => {
        const result = await outcome(token);
        // base64url is malleable in its last character's unused bits: the same bytes may verify.
        if (typeof result !== 'string') expect(JSON.stringify(result.claims)).toBe(signedClaims);
      }),
      { numRuns: 400 },
    );
  });

  it('holds every rule for whatever it accepts, under claim type confusion signed with the trusted key', async () => {
    /** Mostly the right value (so that acceptances happen), else a near miss, a wrong type, or nothing. */
    const claim = (right: unknown, ...nearMisses: unknown[]) =>
      fc.oneof(
        { arbitrary: fc.constant(right), weight: 8 },
        { arbitrary: fc.constantFrom(...nearMisses), weight: 2 },
        { arbitrary: hostile, weight: 1 },
        { arbitrary: fc.constant(undefined), weight: 1 },
      );
    const now = clock.seconds;
    let accepted = 0;
    const claims = fc.record({
      iss: claim(ISSUER, `${ISSUER}/`, ISSUER.toUpperCase(), [ISSUER], { iss: ISSUER }),
      aud: claim(AUDIENCE, [AUDIENCE], ['client_1', AUDIENCE], `${AUDIENCE}/`, { aud: AUDIENCE }),
      sub: claim('user_01ABC', 'user_ü', 'a'.repeat(500), ['user_01ABC'], 42),
      exp: claim(now + 300, now - 60, now - 3, String(now + 300), [now + 300], now + 0.5),
      iat: claim(now, now + 60, now - 10, String(now), { t: now }),
      nbf: claim(undefined, now - 10, now + 120, String(now)),
      scope: claim('openid profile email', ['openid'], 'a b  c', 'openid\u0000admin'),
      client_id: claim('client_01XYZ', { id: 'x' }),
      org_id: claim('org_1', 7),
    });
    await fc.assert(
      fc.asyncProperty(claims, async (raw) => {
        const payload = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
        const result = await outcome(jws({ alg: 'RS256', kid: key.kid, typ: 'JWT' }, payload, key));
        if (typeof result === 'string') return;
        accepted++;
        const c = result.claims;
        expect(c.iss).toBe(ISSUER);
        expect(Array.isArray(c.aud) ? c.aud.includes(AUDIENCE) : c.aud === AUDIENCE).toBe(true);
        expect(typeof c.exp === 'number' && c.exp > now - TOLERANCE).toBe(true);
        expect(typeof c.iat === 'number' && c.iat <= now + TOLERANCE).toBe(true);
        expect(c.nbf === undefined || (typeof c.nbf === 'number' && c.nbf <= now + TOLERANCE)).toBe(true);
        expect(typeof result.sub === 'string' && result.sub.length > 0).toBe(true);
        expect(result.scopes.every((s) => typeof s === 'string')).toBe(true);
        expect(result.clientId === null || typeof result.clientId === 'string').toBe(true);
        expect(result.orgId === null || typeof result.orgId === 'string').toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(0); // the rules were checked on real acceptances, not vacuously
  });

  it('accepts only RS256 by the trusted key under header confusion, and never fetches a key it is pointed at', async () => {
    let accepted = 0;
    const header = fc.record(
      {
        alg: fc.oneof(
          { arbitrary: fc.constant('RS256'), weight: 3 },
          { arbitrary: fc.constantFrom('none', 'HS256', 'rs256', 'RS256 ', 'PS256', ['RS256']), weight: 1 },
          { arbitrary: hostile, weight: 1 },
        ),
        kid: fc.oneof(
          { arbitrary: fc.constant(key.kid), weight: 3 },
          { arbitrary: fc.constant(attacker.kid), weight: 1 },
          { arbitrary: hostile, weight: 1 },
        ),
        typ: fc.oneof(fc.constant('JWT'), fc.constant('at+jwt'), hostile),
        crit: fc.constantFrom(['exp'], ['b64'], [], 'exp'),
        b64: fc.constantFrom(false, true),
        jku: fc.constant(EVIL),
        x5u: fc.constant(EVIL),
        jwk: fc.constant(attacker.jwk),
      },
      { requiredKeys: ['alg'] },
    );
    await fc.assert(
      fc.asyncProperty(header, fc.boolean(), async (h, byAttacker) => {
        const result = await outcome(jws(h, validClaims(), byAttacker ? attacker : key));
        if (typeof result !== 'string') {
          accepted++;
          expect(h.alg).toBe('RS256');
          expect(byAttacker).toBe(false);
          // the only critical extension jose knows is b64 (RFC 7797), and an unencoded payload is no
          // JWT; outside `crit`, b64 means nothing and the payload is the signed, encoded one
          expect(h.crit === undefined || JSON.stringify(h.crit) === '["b64"]').toBe(true);
          if (h.crit !== undefined) expect(h.b64).not.toBe(false);
        }
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(fetch.calls.filter((u) => u !== JWKS_URL)).toEqual([]);
  });

  it('refuses a 1 MB token at once, before decoding or fetching anything', async () => {
    const before = fetch.calls.length;
    const huge = jws({ alg: 'RS256', kid: key.kid }, { ...validClaims(), pad: 'x'.repeat(1 << 20) }, key);
    const started = performance.now();
    expect(await outcome(huge)).toBe('too_large');
    expect(performance.now() - started).toBeLessThan(50);
    expect(fetch.calls.length).toBe(before);
  });
});

describe('/mcp under hostile Authorization headers (property-based, over HTTP)', () => {
  let w: McpWorld;
  let aud: string;
  let challenge: RegExp;
  let noToken: string;

  beforeAll(async () => {
    w = await startWorld({ LOG_LEVEL: 'silent' });
    aud = w.bridge.mcpUrl;
    const prm = `${w.bridge.url}/.well-known/oauth-protected-resource/mcp`;
    const descriptions = Object.values(REJECTION_DESCRIPTIONS).map((d) => d.replace(/[.]/g, '\\.'));
    noToken = `Bearer resource_metadata="${prm}", scope="openid profile email"`;
    challenge = new RegExp(
      `^Bearer error="invalid_token", error_description="(${descriptions.join('|')})", resource_metadata="${prm.replace(/[.]/g, '\\.')}", scope="openid profile email"$`,
    );
  });
  afterAll(() => w.close());

  async function expectRefused(authorization: string): Promise<void> {
    const res = await request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', authorization)
      .send(toolCall('whoami', {}, 7));
    expect(res.status).toBe(401);
    const header = res.headers['www-authenticate'];
    if (authorization.trim() === '') expect(header).toBe(noToken);
    else expect(header).toMatch(challenge);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: 7 });
  }

  it('answers random header values and mutated tokens with 401 and a proper challenge', async () => {
    const valid = await w.emulator.mintAccessToken({ aud });
    // header-safe characters only: what an HTTP client can put in a header at all
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 300,
    });
    const value = fc.oneof(
      printable,
      printable.map((s) => `Bearer ${s}`),
      printable.map((s) => `bEaReR   ${s}`),
      fc.nat(valid.length - 2).map((i) => `Bearer ${valid.slice(0, i)}`),
      fc
        .tuple(fc.nat(valid.length - 1), fc.constantFrom('A', 'z', '-', '_'))
        .map(([i, c]) => `Bearer ${valid.slice(0, i)}${valid[i] === c ? 'B' : c}${valid.slice(i + 1)}`),
      fc.constant(`Basic ${Buffer.from('user:pass').toString('base64')}`),
      fc.constant(`Bearer ${valid} ${valid}`),
    );
    await fc.assert(
      fc.asyncProperty(value, async (authorization) => {
        const result = await request(w.bridge.url)
          .post('/mcp')
          .set(MCP_HEADERS)
          .set('Authorization', authorization)
          .send(toolCall('whoami', {}, 7));
        // a flipped character in the last, partly unused base64 character can leave the bytes unchanged
        if (result.status === 200) {
          expect(authorization.slice(7, -1)).toBe(valid.slice(0, -1));
          return;
        }
        expect(result.status).toBe(401);
        await expectRefused(authorization);
      }),
      { numRuns: 150 },
    );
  });

  it.each<[string, Record<string, unknown>]>([
    ['exp as a string', { exp: String(Math.floor(Date.now() / 1000) + 300) }],
    ['aud as an object', { aud: { value: 'x' } }],
    ['aud as a nested array', { aud: [['x']] }],
    ['iss as an array', { iss: ['x'] }],
    ['sub as a number', { sub: 12345 }],
    ['sub as an object', { sub: { id: 'user_1' } }],
    ['iat as a string', { iat: 'yesterday' }],
    ['nbf in the future as a string', { nbf: '9999999999' }],
    ['a unicode issuer that looks right', { iss: 'http://127.0.0.1:１' }],
  ])('refuses a token signed by AuthKit with %s', async (_what, claims) => {
    const withAud = 'aud' in claims ? claims : { aud, ...claims };
    await expectRefused(`Bearer ${await w.emulator.mintAccessToken(withAud)}`);
  });

  it('refuses an 11 KB token with 401 too_large, and a 1 MB header before it reaches the app', async () => {
    const big = await w.emulator.mintAccessToken({ aud, pad: 'x'.repeat(8_000) });
    expect(big.length).toBeGreaterThan(10_000);
    await expectRefused(`Bearer ${big}`);
    // Node's 16 KB header limit answers 431 (or cuts the connection while the client still writes).
    const huge = `Bearer ${'a'.repeat(1 << 20)}`;
    const status = await fetch(`${w.bridge.mcpUrl}`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: huge },
      body: JSON.stringify(toolCall('whoami')),
    }).then(
      (r) => r.status,
      () => 'connection closed',
    );
    expect([431, 'connection closed']).toContain(status);
    // and a 1 MB body with a bad token is a 401 like any other
    const res = await request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', 'Bearer x.y.z')
      .send({ ...toolCall('whoami'), pad: 'x'.repeat(1_000_000) });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(challenge);
  });
});

/**
 * AuthKit's issuer behind a front that counts JWKS requests and can park them: a request that
 * waits for a refetch cannot be answered while the front holds it, so "answered at once" is
 * counted, not timed.
 */
async function startJwksFront() {
  const parked: Array<() => void> = [];
  let onJwks: (() => void) | undefined;
  const front = {
    target: '',
    jwksRequests: 0,
    holding: false,
    /** Resolves at the next JWKS request the front receives. */
    nextJwksRequest: () => new Promise<void>((resolve) => (onJwks = resolve)),
    release() {
      front.holding = false;
      for (const go of parked.splice(0)) go();
    },
  };
  const forward = (req: IncomingMessage, res: ServerResponse) =>
    fetch(`${front.target}${req.url}`, { headers: { accept: 'application/json' } }).then(
      async (answer) => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => req.socket.destroy(),
    );
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/oauth2/jwks')) {
      front.jwksRequests++;
      onJwks?.();
      if (front.holding) return void parked.push(() => void forward(req, res));
    }
    void forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(front, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        front.release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

describe('/mcp under a flood of made-up key ids (over HTTP, counted at the JWKS endpoint)', () => {
  let front: Awaited<ReturnType<typeof startJwksFront>>;
  let emulator: RunningEmulator;
  let db: TestDatabase;
  let bridge: Bridge;

  beforeAll(async () => {
    front = await startJwksFront();
    emulator = await startEmulator({
      issuer: front.url,
      loginUri: 'http://127.0.0.1:9/auth/login',
      enableTestControl: true,
    });
    front.target = emulator.url;
    db = await createTestDatabase();
    bridge = await startBridge(emulator, db.database, { LOG_LEVEL: 'silent' });
  });
  afterAll(async () => {
    await bridge.close();
    await emulator.close();
    await front.close();
    await db.dispose();
  });

  const call = (token: string) =>
    request(bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', `Bearer ${token}`)
      .send(toolCall('whoami'))
      .then((res) => res);
  const madeUp = (n: number, prefix: string) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        emulator.mintAccessToken({ aud: bridge.mcpUrl }, { kid: `sso_oidc_key_pair_${prefix}_${i}` }),
      ),
    );

  it('answers made-up kids with 401 at once while the key set is fresh: no JWKS request, none held', async () => {
    expect((await call(await emulator.mintAccessToken({ aud: bridge.mcpUrl }))).status).toBe(200);
    const tokens = await madeUp(60, 'fresh');
    const before = front.jwksRequests;
    front.holding = true; // a refetch, if one were made, would hold its requests here
    try {
      const refetched = front.nextJwksRequest().then(() => 'a JWKS request' as const);
      const answers = Promise.all(tokens.map(call));
      const first = await Promise.race([answers.then(() => 'all answered' as const), refetched]);
      expect(first).toBe('all answered');
      for (const res of await answers) {
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toContain(REJECTION_DESCRIPTIONS.unknown_key);
      }
      expect(front.jwksRequests - before).toBe(0);
    } finally {
      front.release();
    }
  });

  it('once the cooldown of the last fetch is over, a burst of unknown kids makes one JWKS request', async () => {
    const spy = jest.spyOn(bridge.app.get(Clock), 'now').mockImplementation(() => Date.now() + 31_000);
    try {
      const tokens = await madeUp(40, 'later');
      const before = front.jwksRequests;
      front.holding = true;
      const refetched = front.nextJwksRequest();
      const answers = Promise.all(tokens.map(call));
      await refetched; // the first unknown kid asked AuthKit; the others join it (40 < the cap)
      front.release();
      for (const res of await answers) expect(res.status).toBe(401);
      expect(front.jwksRequests - before).toBe(1);
      // and right after it, more made-up kids are refused without asking again
      for (const res of await Promise.all((await madeUp(10, 'again')).map(call)))
        expect(res.status).toBe(401);
      expect(front.jwksRequests - before).toBe(1);
    } finally {
      front.release();
      spy.mockRestore();
    }
  });
});

describe('proxy mode under hostile Mcp-Session-Id and Last-Event-ID (property-based, over HTTP)', () => {
  const SECRET = 'upstream-secret-0123456789abcdef-0123456789';
  let upstream: UpstreamMcp;
  let w: McpWorld;
  let alice: string;
  let session: string;
  let eventId: string;

  beforeAll(async () => {
    upstream = await startUpstreamMcp(SECRET);
    w = await startWorld({
      LOG_LEVEL: 'silent',
      MCP_UPSTREAM_URL: upstream.url,
      MCP_UPSTREAM_SECRET: SECRET,
    });
    alice = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, sub: 'user_alice' });
    const init = await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, Authorization: `Bearer ${alice}` })
      .send({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
      });
    session = init.headers['mcp-session-id'];
    const events = await request(w.bridge.url)
      .get('/mcp')
      .set({ Accept: 'text/event-stream', Authorization: `Bearer ${alice}` })
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => done(null, text));
      });
    eventId = /^id: (.+?)\r?$/m.exec(events.body as string)![1];
  });
  afterAll(async () => {
    await w.close();
    await upstream.close();
  });

  /** Mutations of `valid` plus random header values; none is `valid` itself. */
  const forgeriesOf = (valid: string) =>
    fc
      .oneof(
        fc
          .tuple(fc.nat(valid.length - 1), fc.constantFrom(...'AaZz09-_.=+/ '))
          .map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
        fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
        fc.string({ maxLength: 10 }).map((s) => valid + s.replace(/[^\x21-\x7e]/g, '')),
        fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\x20-\x7e]/g, '').trim()),
        fc.constantFrom('s1..', 'e1..', 's1.AA.AA', 'fixture-session-1', 'evt-1', `${valid},${valid}`),
      )
      .filter((v) => v !== valid && v !== '');

  it('answers every forged Mcp-Session-Id with 404 and never forwards it', async () => {
    const before = upstream.requests.length;
    await fc.assert(
      fc.asyncProperty(
        forgeriesOf(session),
        fc.constantFrom('POST', 'GET', 'DELETE'),
        async (forged, method) => {
          const agent = request(w.bridge.url);
          const req = (
            method === 'POST'
              ? agent.post('/mcp')
              : method === 'GET'
                ? agent.get('/mcp')
                : agent.delete('/mcp')
          ).set({ ...MCP_HEADERS, Authorization: `Bearer ${alice}`, 'Mcp-Session-Id': forged });
          const res = method === 'POST' ? await req.send(toolCall('upstream_whoami', {}, 1)) : await req;
          expect(res.status).toBe(404);
          expect(res.body).toMatchObject({
            jsonrpc: '2.0',
            error: { code: -32001, message: 'Session not found' },
          });
        },
      ),
      { numRuns: 150 },
    );
    expect(upstream.requests.length).toBe(before);
  });

  it('answers every forged Last-Event-ID with 400 and never forwards it', async () => {
    const before = upstream.requests.length;
    await fc.assert(
      fc.asyncProperty(forgeriesOf(eventId), async (forged) => {
        const res = await request(w.bridge.url)
          .get('/mcp')
          .set({ Accept: 'text/event-stream', Authorization: `Bearer ${alice}`, 'Last-Event-ID': forged });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
      }),
      { numRuns: 150 },
    );
    expect(upstream.requests.length).toBe(before);
  });
});
