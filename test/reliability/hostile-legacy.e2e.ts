/**
 * A legacy app whose session-introspection endpoint misbehaves: invalid JSON, huge and
 * compressed-bomb bodies, a slow drip, no answer at all, redirects, a flood of headers, wrong
 * types for id/email (property-based). The person sees a clear page (503 "unavailable" with a
 * retry link, or 502 "cannot be used"), in bounded time, having read a bounded number of bytes;
 * the transaction survives and completes once the legacy app answers properly again.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { JwtCookieService } from '../../src/legacy-session/jwt-cookie.service';
import { LegacyInvalidUserError } from '../../src/legacy-session/legacy-session.errors';
import { Browser, pageText, type Page } from '../login/browser';
import { startHarness, type Harness } from '../login/harness';

const TIMEOUT_MS = 500;
const USER = { id: 'u-hostile-1', email: 'hostile.user@example.com', first_name: 'Hostile' };

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server whose /session answer is whatever the test sets; counts bytes it managed to send. */
async function startHostileLegacy() {
  const state = {
    behaviour: ((_req, res) => res.writeHead(401).end()) as Behaviour,
    bytesSent: 0,
    hits: new Map<string, number>(),
  };
  const server: Server = createServer((req, res) => {
    state.hits.set(req.url ?? '', (state.hits.get(req.url ?? '') ?? 0) + 1);
    if (req.url === '/steal')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(USER));
    state.behaviour(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    state,
    url,
    /** Writes `chunk` as fast as the peer reads it, until it goes away or `max` bytes; counts what was sent. */
    stream(res: ServerResponse, chunk: Buffer, max = 200 * 2 ** 20) {
      const pump = () => {
        while (state.bytesSent < max && !res.destroyed) {
          state.bytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('session introspection against a hostile legacy app', () => {
  let h: Harness;
  let legacy: Awaited<ReturnType<typeof startHostileLegacy>>;

  beforeAll(async () => {
    legacy = await startHostileLegacy();
    h = await startHarness({
      strategy: 'session-introspection',
      env: { LEGACY_SESSION_URL: `${legacy.url}/session`, LEGACY_TIMEOUT_MS: String(TIMEOUT_MS) },
    });
  });
  afterAll(async () => {
    await h.close();
    await legacy.close();
  });

  /** A browser with a legacy cookie (so the bridge asks), at the Login URI: the page and how long it took. */
  async function visit(): Promise<{ b: Browser; page: Page; ms: number }> {
    const b = new Browser();
    b.setCookie(h.url, 'legacy_sid', 'some-session');
    const started = performance.now();
    const page = await b.go(h.authorizeUrl());
    return { b, page, ms: performance.now() - started };
  }

  const unavailable = (page: Page) => {
    expect(page.status).toBe(503);
    expect(pageText(page.html)).toContain('The sign-in service is unavailable');
    expect(page.html).toMatch(/href="\/auth\/login\/resume\?tx=[A-Za-z0-9_-]{22}"/);
    expect(page.headers.get('cache-control')).toBe('no-store');
  };

  const behaviours: Array<[string, Behaviour]> = [
    [
      'invalid JSON',
      (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "u1", "email": '),
    ],
    [
      'an HTML page with 200',
      (_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end('<html>Please sign in</html>'),
    ],
    ['an empty 200', (_q, r) => r.writeHead(200).end()],
    ['HTTP 500', (_q, r) => r.writeHead(500).end('boom')],
    ['HTTP 404', (_q, r) => r.writeHead(404).end()],
    ['HTTP 418 with a user body', (_q, r) => r.writeHead(418).end(JSON.stringify(USER))],
    [
      'a slow drip (one byte every 100 ms)',
      (_q, r) => {
        r.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => (r.destroyed ? clearInterval(t) : r.write(' ')), 100);
      },
    ],
    ['no answer at all', () => undefined],
    [
      'headers, then nothing',
      (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).flushHeaders(),
    ],
    [
      'a connection cut mid-body',
      (q, r) => {
        r.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        r.write('{"id":"u1",');
        setTimeout(() => q.socket.destroy(), 20);
      },
    ],
    [
      '64 KB of headers',
      (_q, r) => {
        for (let i = 0; i < 64; i++) r.setHeader(`x-junk-${i}`, 'x'.repeat(1000));
        r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(USER));
      },
    ],
  ];

  it.each(behaviours)(
    'shows "unavailable" with a retry link, in bounded time, for %s',
    async (_what, behaviour) => {
      legacy.state.behaviour = behaviour;
      const { page, ms } = await visit();
      unavailable(page);
      expect(ms).toBeLessThan(TIMEOUT_MS + 1500);
    },
  );

  it.each([301, 302, 303, 307, 308])(
    'does not follow a %i redirect (to a URL that would vouch for anyone)',
    async (status) => {
      legacy.state.behaviour = (_q, r) => r.writeHead(status, { location: `${legacy.url}/steal` }).end();
      const before = legacy.state.hits.get('/steal') ?? 0;
      unavailable((await visit()).page);
      expect(legacy.state.hits.get('/steal') ?? 0).toBe(before);
    },
  );

  it('stops reading a 200 MB body after 64 KB', async () => {
    legacy.state.bytesSent = 0;
    legacy.state.behaviour = (_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json' });
      r.write(`{"id":"u1","email":"a@b.co","pad":"`);
      legacy.stream(r, Buffer.alloc(64 * 1024, 'x'));
    };
    const { page, ms } = await visit();
    unavailable(page);
    expect(ms).toBeLessThan(TIMEOUT_MS + 1500);
    // what crossed the wire before the bridge hung up: socket buffers, not the 200 MB
    expect(legacy.state.bytesSent).toBeLessThan(16 * 2 ** 20);
  });

  it('stops inflating a gzip bomb after 64 KB', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 2 ** 20, ' ')); // 64 MB of spaces, ~64 KB compressed
    legacy.state.behaviour = (_q, r) =>
      r.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
    const heapBefore = process.memoryUsage().heapUsed;
    const { page, ms } = await visit();
    unavailable(page);
    expect(ms).toBeLessThan(TIMEOUT_MS + 1500);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 2 ** 20);
  });

  it('shows "cannot be used" (502, no retry) for user JSON of the wrong types, and never a 5xx otherwise', async () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        '',
        ' ',
        'a@b',
        '@example.com',
        'x'.repeat(400),
        'a\u0000b@example.com',
        -1,
        1.5,
        2 ** 60,
        true,
        null,
      ),
    );
    const body = fc.oneof(
      fc.record({ id: value, email: value }),
      fc.record({ id: fc.constant('u1'), email: value, first_name: value, last_name: value }),
      fc.record({ id: value, email: fc.constant('a@b.co'), metadata: value }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (json) => {
        legacy.state.behaviour = (_q, r) =>
          r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
        const { page } = await visit();
        // a usable user (it happens) is asked "Continue as …?"; anything else is refused, plainly
        if (page.status === 200) return expect(page.html).toContain('Continue with this account?');
        expect(page.status).toBe(502);
        expect(pageText(page.html)).toContain('Your account cannot be used here');
        expect(page.html).not.toContain('/auth/login/resume');
      }),
      { numRuns: 60 },
    );
  });

  it('keeps the transaction: once the legacy app answers properly, the retry link completes it', async () => {
    legacy.state.behaviour = (_q, r) => r.writeHead(500).end();
    const { b, page } = await visit();
    unavailable(page);
    legacy.state.behaviour = (_q, r) =>
      r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(USER));
    const resume = /href="([^"]+)"/.exec(page.html.slice(page.html.indexOf('/auth/login/resume') - 6))![1];
    const confirm = await b.go(new URL(resume, h.url).toString());
    expect(confirm.html).toContain('Continue with this account?');
    const end = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
    const audit = await h.audit();
    expect(audit.at(-1)).toMatchObject({ outcome: 'success', legacyUserId: USER.id });
  });
});

describe('jwt-cookie session tokens with hostile claims and headers, signed with the legacy key (property-based)', () => {
  const secret = 'k'.repeat(40);
  const MAX_AGE = 3600;
  const TOLERANCE = 5;
  const service = new JwtCookieService({
    cookie: 'legacy_jwt',
    secret,
    algorithms: ['HS256'],
    issuer: 'legacy-app',
    audience: 'connect-bridge',
    maxAgeSeconds: MAX_AGE,
    typ: 'legacy-session+jwt',
    claims: {
      id: 'sub',
      email: 'email',
      firstName: 'given_name',
      lastName: 'family_name',
      roles: 'roles',
      tenants: 'tenants',
    },
    timeoutMs: 500,
  });
  const hostile = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(null, true, 0, -1, 1e308, -1e308, '', '0', 'NaN', '9999999999', [1], { t: 1 }),
  );
  /** Mostly the right value (so that acceptances happen), else a near miss, a wrong type, or nothing. */
  const claim = (right: unknown, ...nearMisses: unknown[]) =>
    fc.oneof(
      { arbitrary: fc.constant(right), weight: 6 },
      { arbitrary: fc.constantFrom(...nearMisses), weight: 3 },
      { arbitrary: hostile, weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 1 },
    );

  it('accepts a token only when exp, iat (within the max age), typ, iss and aud all hold; never throws otherwise', async () => {
    const now = Math.floor(Date.now() / 1000);
    let accepted = 0;
    const token = fc.record({
      typ: claim(
        'legacy-session+jwt',
        'JWT',
        'at+jwt',
        'application/legacy-session+jwt',
        'LEGACY-SESSION+JWT',
      ),
      iss: claim('legacy-app', 'legacy-app/', 'LEGACY-APP', ['legacy-app']),
      aud: claim('connect-bridge', ['connect-bridge'], ['other', 'connect-bridge'], 'other'),
      exp: claim(now + 600, now - 60, now + 10 * 365 * 86_400, 1e12, String(now + 600), now - 3),
      iat: claim(now - 60, now - MAX_AGE - 60, now - MAX_AGE + 60, now + 3600, now - 10 * 365 * 86_400, 0),
      nbf: claim(undefined, now - 10, now + 3600),
    });
    await fc.assert(
      fc.asyncProperty(token, async ({ typ, ...raw }) => {
        const payload = Object.fromEntries(
          Object.entries({ ...raw, sub: 'u-1', email: 'a@example.com' }).filter(([, v]) => v !== undefined),
        );
        const header = { alg: 'HS256', ...(typ === undefined ? {} : { typ }) } as { alg: string };
        const jwt = await new SignJWT(payload)
          .setProtectedHeader(header)
          .sign(new TextEncoder().encode(secret));
        let user;
        try {
          user = await service.verify(`legacy_jwt=${jwt}`);
        } catch (err) {
          expect(err).toBeInstanceOf(LegacyInvalidUserError); // the only error a verified token may raise
          return;
        }
        if (user === null) return;
        accepted++;
        const c = raw as Record<string, unknown>;
        expect(typeof c.exp === 'number' && c.exp > now - TOLERANCE).toBe(true);
        expect(typeof c.iat === 'number' && c.iat <= now + TOLERANCE).toBe(true);
        expect(now - (c.iat as number)).toBeLessThanOrEqual(MAX_AGE + TOLERANCE);
        expect(c.nbf === undefined || (c.nbf as number) <= now + TOLERANCE).toBe(true);
        expect(
          String(typ)
            .toLowerCase()
            .replace(/^application\//, ''),
        ).toBe('legacy-session+jwt');
        expect(c.iss).toBe('legacy-app');
        expect(Array.isArray(c.aud) ? c.aud.includes('connect-bridge') : c.aud === 'connect-bridge').toBe(
          true,
        );
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(0); // the rules were checked on real acceptances, not vacuously
  });
});
