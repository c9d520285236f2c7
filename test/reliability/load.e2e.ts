/**
 * Load: MCP clients and people signing in at the same time, against the compiled server in its
 * own process, with nothing lost (zero errors; every completed sign-in has its transaction,
 * its audit row and exactly one completion at AuthKit). The one-minute run is `npm run soak`
 * (bench/soak.test.ts); this is its short version. And the rate limits of the Login URI and of
 * the sign-in form under a concurrent burst: exactly the limit gets through, then they recover.
 */
import request from 'supertest';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { DEFAULT_LOGIN_RATE_LIMITS, RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { Browser, formFields } from '../login/browser';
import { startHarness, type Harness } from '../login/harness';
import { expectNothingLost, runMixedLoad, summarize } from './mixed-load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('100 MCP clients and 10 sign-ins at a time, for 10 seconds', () => {
  it('serves every call and every sign-in, and records every one of them', async () => {
    const r = await runMixedLoad({ seconds: 10, mcpClients: 100, loginFlows: 10 });
    console.log(summarize(r));
    expectNothingLost(r);
    expect(r.mcp.requests).toBeGreaterThan(1000);
    expect(r.logins.completed).toBeGreaterThanOrEqual(10); // each lane finishes what it started
    expect(r.server.exit).toBe('SIGTERM'); // a graceful stop after the load
  }, 180_000);
});

describe('rate limits under a burst', () => {
  let h: Harness;
  const erin = { email: 'erin@example.com', password: 'erin-password-1' };

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local' });
    await h.app.get(LocalUsersService).create(erin);
  });
  afterAll(() => h.close());
  beforeEach(() => h.prisma.rateLimitCounter.deleteMany());
  afterEach(() => {
    h.app.get(RateLimiterService).limits = DEFAULT_LOGIN_RATE_LIMITS;
  });

  const limit = (over: Partial<typeof DEFAULT_LOGIN_RATE_LIMITS>) => {
    h.app.get(RateLimiterService).limits = { ...DEFAULT_LOGIN_RATE_LIMITS, ...over };
  };

  /** The sign-in form of a fresh flow, and the cookie header that goes with it. */
  async function signInForm() {
    const b = new Browser();
    const page = await b.go(h.authorizeUrl());
    const cookie = Object.entries(b.cookiesFor(`${h.url}/auth/login`))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
    return { b, page, cookie, fields: formFields(page.html, '/auth/login/local') };
  }
  const post = (cookie: string, form: Record<string, string>) =>
    request(h.url)
      .post('/auth/login/local')
      .set({ Accept: 'text/html', Cookie: cookie })
      .type('form')
      .send(form);

  it('lets exactly the Login URI limit through a concurrent burst (429, Retry-After, no-store), then recovers', async () => {
    limit({ loginStartPerIp: { limit: 5, windowSeconds: 3 } });
    const start = (id: string) =>
      request(h.url).get(`/auth/login?external_auth_id=${id}`).set('Accept', 'text/html');
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => start(`ext_burst_${i}_abcdef`)));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const r of burst.filter((x) => x.status === 429)) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.text).toContain('Too many sign-ins');
    }
    // only the admitted ones wrote transactions; one audit row marks the limit being reached
    const burstRows = { where: { externalAuthId: { startsWith: 'ext_burst_' } } };
    expect(await h.prisma.loginTransaction.count(burstRows)).toBe(5);
    expect((await h.audit()).filter((a) => a.errorCode === 'rate_limited')).toHaveLength(1);
    await sleep(3100);
    expect((await start('ext_after_burst_1')).status).toBe(200);
  });

  it('lets exactly the per-IP limit of sign-in attempts through a concurrent burst, then recovers', async () => {
    const { cookie, fields, b, page } = await signInForm();
    limit({ perIp: { limit: 8, windowSeconds: 3 } });
    await h.prisma.rateLimitCounter.deleteMany();
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(cookie, { ...fields, email: `nobody${i}@example.com`, password: 'wrong-guess' }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(8); // checked (and wrong)
    expect(statuses.filter((s) => s === 429)).toHaveLength(12); // refused before any password work
    for (const r of burst.filter((x) => x.status === 429)) {
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(r.text).toContain('Too many sign-in attempts');
    }
    // while limited, even the right password is refused …
    expect((await post(cookie, { ...fields, ...erin })).status).toBe(429);
    await sleep(3100);
    // … and after the window it works again.
    const end = await b.submit(page, '/auth/login/local', erin, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
  });

  it('locks an account (for this address, and from all) at exactly its limit under a concurrent burst, then recovers', async () => {
    const { cookie, fields, b, page } = await signInForm();
    limit({ perAccountAndIp: { limit: 5, windowSeconds: 3 }, perAccount: { limit: 5, windowSeconds: 3 } });
    const burst = await Promise.all(
      Array.from({ length: 12 }, () =>
        post(cookie, { ...fields, email: erin.email, password: 'wrong-guess' }),
      ),
    );
    expect(burst.filter((r) => r.status === 401)).toHaveLength(5); // checked (and wrong)
    expect(burst.filter((r) => r.status === 429)).toHaveLength(7); // refused before any password work
    expect((await post(cookie, { ...fields, ...erin })).status).toBe(429);
    await sleep(3100);
    const end = await b.submit(page, '/auth/login/local', erin, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
  });
});
