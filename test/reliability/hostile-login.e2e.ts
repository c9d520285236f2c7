/**
 * The Login URI and the login forms under hostile input (property-based where it fits):
 * random and oversized query strings, repeated parameters, CR/LF header injection, unicode and
 * SQL-looking emails, type confusion in JSON bodies. Every answer is a 4xx page (never a 5xx,
 * never a reflected header), and the transaction a real browser has open meanwhile is not
 * disturbed: it completes once, afterwards, as if nothing happened.
 */
import fc from 'fast-check';
import request from 'supertest';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { DEFAULT_LOGIN_RATE_LIMITS, RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { Browser, formFields, type Page } from '../login/browser';
import { externalAuthIdOf, startHarness, type Harness } from '../login/harness';

const LOCAL_FORM = '/auth/login/local';
const EXTERNAL_AUTH_ID = /^[A-Za-z0-9_-]{4,256}$/;

/** Strings an attacker would try in any field. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom(
    "' OR '1'='1",
    "'; DROP TABLE login_transactions; --",
    '" OR ""="',
    '1; SELECT pg_sleep(10)',
    '\r\nSet-Cookie: cbridge_session=planted',
    '%0d%0aLocation:%20https://evil.example.com',
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    '../../etc/passwd',
    '\u0000',
    '\u202e\u2066',
    'ａｌｉｃｅ@example.com',
    'alice@example.com\u200b',
    'ALİCE@example.com',
    '__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 20 }).map((s) => s.padEnd(5000, 'A')),
);

describe('the Login URI and the login forms under hostile input', () => {
  let h: Harness;
  const alice = { email: 'alice@example.com', password: 'alice-correct-horse' };

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local' });
    await h.app.get(LocalUsersService).create({ ...alice, firstName: 'Alice' });
    // Every request here comes from 127.0.0.1: the limits have their own suite (load.e2e.ts).
    h.app.get(RateLimiterService).limits = {
      ...DEFAULT_LOGIN_RATE_LIMITS,
      perIp: { limit: 1_000_000, windowSeconds: 900 },
      perAccount: { limit: 1_000_000, windowSeconds: 900 },
      loginStartPerIp: { limit: 1_000_000, windowSeconds: 900 },
    };
  });
  afterAll(() => h.close());

  /** A 4xx page (or a 200 page for a well-formed request): HTML, no-store, nothing reflected in headers. */
  function expectPage(res: request.Response, ...allowed: number[]): void {
    expect(allowed).toContain(res.status);
    if (res.status === 431 || res.status === 413) return; // refused before the app: no page
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-store');
    for (const [name, value] of Object.entries(res.headers)) {
      expect(`${name}: ${String(value)}`).not.toMatch(/evil\.example|planted|onerror|<script/i);
    }
    expect(res.text).not.toMatch(/<script|<img src=x/i);
  }

  describe('with a real sign-in open in another browser meanwhile', () => {
    let victim: Browser;
    let victimPage: Page;
    let rowsBefore: number;

    beforeAll(async () => {
      victim = new Browser();
      victimPage = await victim.go(h.authorizeUrl());
      expect(victimPage.html).toContain(`action="${LOCAL_FORM}"`);
      rowsBefore = await h.prisma.loginTransaction.count();
    });

    it('answers random query strings on the Login URI with a page, never a 5xx', async () => {
      let created = 0;
      const param = fc.oneof(
        fc.constant('external_auth_id'),
        fc.constantFrom('tx', 'return_to', 'redirect_uri', 'state'),
        fc.string({ maxLength: 10 }),
      );
      const pair = fc
        .tuple(param, nasty, fc.boolean())
        .map(
          ([k, v, raw]) =>
            `${encodeURIComponent(k)}=${raw ? v.replace(/[\s#&%]/g, encodeURIComponent) : encodeURIComponent(v)}`,
        );
      await fc.assert(
        fc.asyncProperty(fc.array(pair, { maxLength: 4 }), async (pairs) => {
          const res = await request(h.url)
            .get(`/auth/login?${pairs.join('&')}`)
            .set('Accept', 'text/html');
          const ids = new URLSearchParams(pairs.join('&')).getAll('external_auth_id');
          const wellFormed = ids.length === 1 && EXTERNAL_AUTH_ID.test(ids[0]);
          if (wellFormed) created++;
          expectPage(res, ...(wellFormed ? [200] : [400, 431]));
        }),
        { numRuns: 250 },
      );
      // Only well-formed ids ever became transactions.
      expect(await h.prisma.loginTransaction.count()).toBe(rowsBefore + created);
    });

    it('refuses repeated, array-shaped, oversized and injected external_auth_id values with 400', async () => {
      const cases = [
        'external_auth_id=abcd1234&external_auth_id=efgh5678',
        'external_auth_id[]=abcd1234',
        'external_auth_id[a]=abcd1234',
        `external_auth_id=${'a'.repeat(257)}`,
        'external_auth_id=abcd%0d%0aSet-Cookie:%20cbridge_session=planted',
        'external_auth_id=abcd%0aLocation:%20https://evil.example.com',
        "external_auth_id=abcd'%20OR%201=1--",
        'external_auth_id=%F0%9F%98%80abcd',
        'external_auth_id=%',
        'external_auth_id=%ZZ',
      ];
      for (const q of cases) {
        const res = await request(h.url).get(`/auth/login?${q}`).set('Accept', 'text/html');
        expectPage(res, 400);
        expect(res.text).toContain('invalid_external_auth_id');
      }
      const huge = await request(h.url).get(`/auth/login?external_auth_id=${'a'.repeat(20_000)}`);
      expect(huge.status).toBe(431); // Node's header limit, before the app
    });

    it('answers hostile resume and form posts with 4xx pages', async () => {
      const txId = formFields(victimPage.html, LOCAL_FORM).tx;
      const field = fc.oneof(nasty, fc.constant(txId));
      const form = fc.record(
        { tx: field, csrf: nasty, email: nasty, password: nasty, action: nasty, user: nasty },
        { requiredKeys: [] },
      );
      const route = fc.constantFrom(LOCAL_FORM, '/auth/login/confirm', '/auth/login/retry');
      await fc.assert(
        fc.asyncProperty(route, form, fc.boolean(), async (path, fields, asJson) => {
          const req = request(h.url).post(path).set('Accept', 'text/html');
          const res = asJson
            ? await req.set('Content-Type', 'application/json').send(JSON.stringify(fields))
            : await req.type('form').send(new URLSearchParams(fields as Record<string, string>).toString());
          expectPage(res, 400, 403);
        }),
        { numRuns: 150 },
      );
      for (const tx of [
        `${txId}%0d%0aX-Injected:%201`,
        encodeURIComponent("' OR 1=1--"),
        'a'.repeat(2000),
        '',
      ]) {
        expectPage(await request(h.url).get(`/auth/login/resume?tx=${tx}`).set('Accept', 'text/html'), 403);
      }
    });

    it('answers type confusion in JSON form bodies and oversized forms without a 5xx', async () => {
      const txId = formFields(victimPage.html, LOCAL_FORM).tx;
      for (const body of [
        { tx: [txId], csrf: ['x'] },
        { tx: { $ne: null }, csrf: { $gt: '' } },
        { tx: txId, csrf: 1, email: { $regex: '.*' }, password: ['a', 'b'] },
        { tx: null, csrf: null },
        [txId],
      ]) {
        const res = await request(h.url)
          .post(LOCAL_FORM)
          .set('Accept', 'text/html')
          .send(body as object);
        expectPage(res, 400, 403);
      }
      const big = await request(h.url)
        .post(LOCAL_FORM)
        .set('Accept', 'text/html')
        .type('form')
        .send(`tx=${txId}&email=${'a'.repeat(70_000)}`);
      expect(big.status).toBe(413);
      expect(big.headers['content-type']).toMatch(/^text\/html/);
    });

    it("signs in as alice only with alice's email (unicode, case and SQL tricks do not match)", async () => {
      const b = new Browser();
      const page = await b.go(h.authorizeUrl());
      const failuresBefore = (await h.audit()).filter((r) => r.errorCode === 'invalid_credentials').length;
      let attempts = 0;
      const lookalike = fc.oneof(
        nasty,
        fc.constantFrom(
          'ａｌｉｃｅ@example.com',
          'alice@example.com\u200b',
          'alice@еxample.com', // a Cyrillic е
          'alice@example.com.',
          "alice@example.com' --",
          "' OR email LIKE '%",
          'alice@example.com\u0000',
        ),
      );
      await fc.assert(
        fc.asyncProperty(lookalike, async (email) => {
          fc.pre(email.trim().toLowerCase() !== alice.email);
          attempts++;
          const res = await b.submit(page, LOCAL_FORM, { email, password: alice.password });
          expect(res.status).toBe(401);
          expect(res.html).toContain('do not match an account');
        }),
        { numRuns: 30 },
      );
      // every attempt left its audit row, NUL bytes and all
      const failures = (await h.audit()).filter((r) => r.errorCode === 'invalid_credentials').length;
      expect(failures - failuresBefore).toBe(attempts);
      // Case and surrounding spaces are the only differences that still name alice.
      const end = await b.submit(
        page,
        LOCAL_FORM,
        { email: ' ALICE@Example.COM ', password: alice.password },
        h.isClientRedirect,
      );
      expect(h.isClientRedirect(end.url)).toBe(true);
    });

    it('leaves the open transaction intact: it completes once, afterwards', async () => {
      const end = await victim.submit(victimPage, LOCAL_FORM, alice, h.isClientRedirect);
      expect(h.isClientRedirect(end.url)).toBe(true);
      const ext = externalAuthIdOf(victim.history.find((u) => u.includes('external_auth_id='))!);
      expect(
        h.emulator.completionCalls().filter((c) => c.externalAuthId === ext && c.status === 200),
      ).toHaveLength(1);
      const rows = await h.prisma.loginTransaction.findMany();
      for (const row of rows) {
        expect(EXTERNAL_AUTH_ID.test(row.externalAuthId)).toBe(true);
        expect(['pending', 'completed', 'failed', 'expired']).toContain(row.status);
        if (row.status === 'completed') expect(row.completingAt).toBeNull();
      }
    });
  });
});
