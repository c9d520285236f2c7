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
import { PasswordHasher } from '../../src/legacy-session/password-hasher';
import {
  DEFAULT_LOGIN_RATE_LIMITS,
  RateLimiterService,
  type LoginRateLimits,
} from '../../src/legacy-session/rate-limiter.service';
import { LEGACY_USERS } from '../fixtures/legacy-app';
import { LogCapture } from '../helpers/app';
import { Browser, formFields, pageText, type Page } from '../login/browser';
import { externalAuthIdOf, startHarness, type Harness } from '../login/harness';

const LOCAL_FORM = '/auth/login/local';
const EXTERNAL_AUTH_ID = /^[A-Za-z0-9_-]{4,256}$/;

/**
 * One log capture for every app of this file: nestjs-pino keeps the first app's logger for the
 * whole process, so a capture handed to a later app alone would stay empty.
 */
const logs = new LogCapture();

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
    h = await startHarness({ strategy: 'local', logs });
    await h.app.get(LocalUsersService).create({ ...alice, firstName: 'Alice' });
    // Every request here comes from 127.0.0.1: the limits have their own suite (load.e2e.ts).
    h.app.get(RateLimiterService).limits = {
      ...DEFAULT_LOGIN_RATE_LIMITS,
      perIp: { limit: 1_000_000, windowSeconds: 900 },
      perAccount: { limit: 1_000_000, windowSeconds: 900 },
      perAccountAndIp: { limit: 1_000_000, windowSeconds: 900 },
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
      const route = fc.constantFrom(
        LOCAL_FORM,
        '/auth/login/confirm',
        '/auth/login/retry',
        '/auth/login/connect',
      );
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
        // An open flow has its well-formed id; an ended one keeps only the id's SHA-256.
        if (row.status === 'pending') expect(EXTERNAL_AUTH_ID.test(row.externalAuthId!)).toBe(true);
        else expect(row.externalAuthId).toBeNull();
        expect(row.externalAuthIdHash).toMatch(/^[0-9a-f]{64}$/);
        expect(['pending', 'completed', 'failed', 'expired']).toContain(row.status);
        if (row.status === 'completed') expect(row.completingAt).toBeNull();
      }
    });
  });
});

/**
 * A flow someone else started: the attacker opens an authorize URL with their own client, takes
 * the Login URI it leads to and gets a person of the company to open it. Whatever the person
 * does at their usual login, nothing is connected until they have seen, on a page of the bridge,
 * that an AI application is asking to connect, and said Continue; forged answers to that page
 * move nothing; a finished flow cannot be replayed though only a hash of its id is kept.
 */
describe('a Login URI someone else started (session-introspection)', () => {
  let h: Harness;
  const CONNECT = '/auth/login/connect';
  const person = { email: LEGACY_USERS[0].email, password: LEGACY_USERS[0].password };

  beforeAll(async () => {
    h = await startHarness({ strategy: 'session-introspection', logs });
  });
  afterAll(() => h.close());

  /** The attacker's part: an authorize with their client, stopped at the Login URI. */
  const attackerLoginUri = async () => {
    const first = await new Browser().request(h.authorizeUrl('attacker'));
    const loginUri = first.headers.get('location')!;
    expect(loginUri).toContain('/auth/login?external_auth_id=');
    return loginUri;
  };
  const completions = (loginUri: string) =>
    h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(loginUri));
  const legacySignIn = async (b: Browser) => {
    const page = await b.go(h.legacy!.loginUrl);
    return b.submit(page, '/login', person);
  };

  it('shows a signed-out person what is asking before any login, and completes nothing without their Continue', async () => {
    const loginUri = await attackerLoginUri();
    const victim = new Browser();
    const ask = await victim.go(loginUri);
    expect(ask.status).toBe(200);
    expect(pageText(ask.html)).toContain(
      `An AI application is asking to connect to your account at ${new URL(h.url).host}`,
    );
    expect(victim.history.some((u) => u.startsWith(h.legacy!.loginUrl))).toBe(false);
    // The person signs in at their usual login (not through the bridge), then opens the link again.
    await legacySignIn(victim);
    expect(
      (await victim.go(`${h.url}/auth/login/resume?tx=${formFields(ask.html, CONNECT).tx}`)).html,
    ).toContain('action="/auth/login/confirm"');
    const again = await victim.go(loginUri);
    expect(pageText(again.html)).toContain('You are signed in as Alice Anderson');
    const cancelled = await victim.submit(again, '/auth/login/confirm', { action: 'cancel' });
    expect(pageText(cancelled.html)).toContain('Nothing was connected');
    expect(completions(loginUri)).toEqual([]);
  });

  it('moves nothing on a forged Continue: no CSRF token, a foreign Origin, another browser, hostile fields', async () => {
    const loginUri = await attackerLoginUri();
    const victim = new Browser();
    const ask = await victim.go(loginUri);
    const fields = formFields(ask.html, CONNECT);
    const attacker = new Browser();
    await attacker.go(await attackerLoginUri()); // a transaction cookie of its own
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          csrf: fc.oneof(nasty, fc.constant(fields.csrf)),
          action: fc.oneof(nasty, fc.constant('continue')),
        }),
        fc.constantFrom('victim-no-token', 'victim-foreign-origin', 'attacker'),
        async ({ csrf, action }, who) => {
          const b = who === 'attacker' ? attacker : victim;
          const form =
            who === 'victim-no-token' ? { tx: fields.tx, action } : { tx: fields.tx, csrf, action };
          const res = await b.request(`${h.url}${CONNECT}`, {
            form: form as Record<string, string>,
            headers: who === 'victim-foreign-origin' ? { Origin: 'https://evil.example' } : {},
          });
          expect(res.status).toBe(403);
          expect(res.headers.get('location')).toBeNull();
        },
      ),
      { numRuns: 40 },
    );
    const row = await h.prisma.loginTransaction.findUniqueOrThrow({ where: { id: fields.tx } });
    expect(row).toMatchObject({ status: 'pending', loginRedirectAt: null, legacyRedirects: 0 });
    expect(completions(loginUri)).toEqual([]);
  });

  it('refuses the replay of a finished flow, though only the SHA-256 of its id is kept', async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl());
    const loginUri = b.history.find((u) => u.includes('/auth/login?external_auth_id='))!;
    const login = await b.submit(ask, CONNECT, { action: 'continue' });
    const end = await b.submit(login, '/login', person, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
    const row = await h.prisma.loginTransaction.findUniqueOrThrow({
      where: { id: formFields(ask.html, CONNECT).tx },
    });
    expect(row).toMatchObject({ status: 'completed', externalAuthId: null });
    expect(row.externalAuthIdHash).toMatch(/^[0-9a-f]{64}$/);
    for (const replayer of [b, new Browser()]) expect((await replayer.request(loginUri)).status).toBe(409);
    expect(completions(loginUri)).toHaveLength(1);
  });
});

/**
 * The sign-in limits under attack: an attacker can neither lock the owner out of an account
 * (the hard limit is per account and address; the per-account ceiling exempts a browser the
 * owner signed in with before) nor dodge the per-address limits by rotating addresses within
 * one IPv6 /64; a flood is answered "busy" instead of piling up password hashing.
 * Every browser here sits behind a trusted proxy and picks its address with X-Forwarded-For.
 */
describe('sign-in limits under attack (lockout, address rotation, floods)', () => {
  let h: Harness;
  const alice = { email: 'alice@example.com', password: 'alice-correct-horse' };
  const ADMIN_TOKEN = 'admin-token-'.padEnd(40, 'x');

  /** A browser behind the trusted proxy: every request carries its own client address. */
  class ProxiedBrowser extends Browser {
    constructor(public ip: string) {
      super();
    }
    override request(url: string, init: Parameters<Browser['request']>[1] = {}): Promise<Page> {
      return super.request(url, { ...init, headers: { 'X-Forwarded-For': this.ip, ...init.headers } });
    }
  }

  beforeAll(async () => {
    h = await startHarness({
      strategy: 'local',
      logs,
      env: { TRUST_PROXY: 'loopback', ADMIN_API_TOKEN: ADMIN_TOKEN, ADMIN_API_RATE_LIMIT_PER_MINUTE: '3' },
    });
    await h.app.get(LocalUsersService).create({ ...alice, firstName: 'Alice' });
  });
  afterAll(() => h.close());
  let saved: LoginRateLimits;
  beforeEach(async () => {
    saved = h.app.get(RateLimiterService).limits;
    await h.prisma.rateLimitCounter.deleteMany();
  });
  afterEach(() => {
    h.app.get(RateLimiterService).limits = saved;
  });
  const limit = (over: Partial<LoginRateLimits>) => {
    h.app.get(RateLimiterService).limits = { ...saved, ...over };
  };

  /** The sign-in form of a fresh flow in `b`. */
  const formIn = async (b: Browser) => {
    const page = await b.go(h.authorizeUrl());
    expect(page.html).toContain(`action="${LOCAL_FORM}"`);
    return page;
  };
  const attempt = (b: Browser, page: Page, password: string, email = alice.email) =>
    b.submit(page, LOCAL_FORM, { email, password }, h.isClientRedirect);

  it('ten and more wrong passwords from one address do not lock the owner out at another', async () => {
    const attacker = new ProxiedBrowser('203.0.113.7');
    const form = await formIn(attacker);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await attempt(attacker, form, `guess-${i}-wrong`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]); // this address is done with this account
    // … even with the right password (the hard limit is checked before it) …
    expect((await attempt(attacker, form, alice.password)).status).toBe(429);
    // … but the owner, elsewhere and without any cookie of ours, signs in.
    const owner = new ProxiedBrowser('198.51.100.20');
    const end = await attempt(owner, await formIn(owner), alice.password);
    expect(h.isClientRedirect(end.url)).toBe(true);
  });

  it("lets the owner's browser (device cookie) through the per-account ceiling a distributed attack reached", async () => {
    limit({ perAccount: { limit: 5, windowSeconds: 900 } });
    const owner = new ProxiedBrowser('198.51.100.21');
    const first = await attempt(owner, await formIn(owner), alice.password);
    expect(h.isClientRedirect(first.url)).toBe(true);
    const device = owner.cookiesFor(`${h.url}${LOCAL_FORM}`).cbridge_device;
    expect(device).toBeDefined();
    // Later, the bridge session has ended (it lasts hours); the device cookie lasts longer.
    owner.setCookie(h.url, 'cbridge_session', 'ended', '/auth');
    await h.prisma.rateLimitCounter.deleteMany();

    // Six addresses, two guesses each: the account's ceiling (5, all addresses) is reached.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const bot = new ProxiedBrowser(`192.0.2.${10 + i}`);
      const form = await formIn(bot);
      for (let j = 0; j < 2; j++) statuses.push((await attempt(bot, form, `bot-${i}-${j}`)).status);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);

    // A browser that never signed in as alice is refused, right password or not …
    const stranger = new ProxiedBrowser('192.0.2.99');
    expect((await attempt(stranger, await formIn(stranger), alice.password)).status).toBe(429);
    // … so is one that copies the cookie's value without its signature …
    const forger = new ProxiedBrowser('192.0.2.98');
    const forgedForm = await formIn(forger);
    const unsigned = decodeURIComponent(device)
      .replace(/^s:/, '')
      .replace(/\.[^.]*$/, '');
    forger.setCookie(h.url, 'cbridge_device', encodeURIComponent(unsigned), '/auth');
    expect((await attempt(forger, forgedForm, alice.password)).status).toBe(429);
    // … while the owner's browser, from another address even, still gets through.
    owner.ip = '198.51.100.99';
    const end = await attempt(owner, await formIn(owner), alice.password);
    expect(h.isClientRedirect(end.url)).toBe(true);
    // The capture did see this suite's sign-ins (so the two lines below can fail).
    expect(logs.text).toMatch(/"context":"Login".*"msg":"login completed"/);
    expect(logs.text).toContain('"route":"/auth/login/local","status":303');
    expect(logs.text).not.toContain(device);
    expect(logs.text).not.toContain(decodeURIComponent(device));
  });

  it('sets the device cookie HttpOnly, SameSite=Lax, signed, under /auth and /account', async () => {
    const owner = new ProxiedBrowser('198.51.100.22');
    const form = await formIn(owner);
    const fields = formFields(form.html, LOCAL_FORM);
    const cookie = Object.entries(owner.cookiesFor(`${h.url}${LOCAL_FORM}`))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
    const res = await request(h.url)
      .post(LOCAL_FORM)
      .set({ Accept: 'text/html', Cookie: cookie, 'X-Forwarded-For': owner.ip })
      .type('form')
      .send({ ...fields, ...alice });
    expect(res.status).toBe(303);
    const set = (res.headers['set-cookie'] as unknown as string[]).filter((c) =>
      c.startsWith('cbridge_device='),
    );
    expect(set.map((c) => /Path=([^;]+)/.exec(c)?.[1]).sort()).toEqual(['/account', '/auth']);
    for (const c of set) {
      expect(c).toMatch(/; HttpOnly/);
      expect(c).toMatch(/; SameSite=Lax/);
      expect(c).toMatch(/^cbridge_device=s%3A/); // signed with SESSION_SECRET
      expect(c).not.toContain('alice');
    }
  });

  it('keys IPv6 addresses by /64: rotating addresses within one prefix shares one sign-in limit', async () => {
    limit({ perIp: { limit: 3, windowSeconds: 900 } });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const bot = new ProxiedBrowser(`2001:db8:abcd:12::${i.toString(16)}`);
      statuses.push((await attempt(bot, await formIn(bot), 'wrong-guess', `nobody${i}@example.com`)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const random = new ProxiedBrowser('2001:db8:abcd:12:dead:beef:1234:5678');
    expect((await attempt(random, await formIn(random), 'wrong', 'x@example.com')).status).toBe(429);
    // The next /64 is someone else.
    const neighbour = new ProxiedBrowser('2001:db8:abcd:13::1');
    expect((await attempt(neighbour, await formIn(neighbour), 'wrong', 'y@example.com')).status).toBe(401);
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address it maps', async () => {
    limit({ perIp: { limit: 2, windowSeconds: 900 } });
    const statuses: number[] = [];
    for (const ip of ['203.0.113.9', '::ffff:203.0.113.9', '::FFFF:cb00:7109']) {
      const bot = new ProxiedBrowser(ip);
      statuses.push((await attempt(bot, await formIn(bot), 'wrong-guess', 'z@example.com')).status);
    }
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('keys Login URI visits by /64 too', async () => {
    limit({ loginStartPerIp: { limit: 3, windowSeconds: 900 } });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const res = await request(h.url)
        .get(`/auth/login?external_auth_id=ext_rotate_${i}_abcdef`)
        .set({ Accept: 'text/html', 'X-Forwarded-For': `2001:db8:77:1:${i}::${i}` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const other = await request(h.url)
      .get('/auth/login?external_auth_id=ext_rotate_other_abcdef')
      .set({ Accept: 'text/html', 'X-Forwarded-For': '2001:db8:77:2::1' });
    expect(other.status).toBe(200);
  });

  it('keys the admin API limit by /64 too', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const res = await request(h.url)
        .get('/admin/users/usr_nobody/grants')
        .set({ Accept: 'application/json', 'X-Forwarded-For': `2001:db8:99:5::${i}` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('answers "busy" (429, Retry-After, no-store) when password hashing is at its ceiling, instead of queueing', async () => {
    const hasher = h.app.get(PasswordHasher);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Every slot and every queue place taken, as a flood would take them.
    const holders = Array.from({ length: hasher.gate.capacity }, () => hasher.gate.run(() => held));
    try {
      const b = new ProxiedBrowser('198.51.100.30');
      const form = await formIn(b);
      const busy = await attempt(b, form, alice.password);
      expect(busy.status).toBe(429);
      expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(busy.headers.get('cache-control')).toBe('no-store');
      expect(busy.headers.get('content-type')).toMatch(/^text\/html/);
      expect(pageText(busy.html)).toMatch(/busy/i);
      const json = await request(h.url)
        .post(LOCAL_FORM)
        .set({
          Accept: 'application/json',
          'X-Forwarded-For': b.ip,
          Cookie: Object.entries(b.cookiesFor(`${h.url}${LOCAL_FORM}`))
            .map(([n, v]) => `${n}=${v}`)
            .join('; '),
        })
        .type('form')
        .send({ ...formFields(form.html, LOCAL_FORM), ...alice });
      expect(json.status).toBe(429);
      expect(json.body).toMatchObject({ error: { code: 'sign_in_busy' } });
    } finally {
      release();
      await Promise.all(holders);
    }
    // The moment hashing has room again, the same browser signs in.
    const b = new ProxiedBrowser('198.51.100.31');
    const end = await attempt(b, await formIn(b), alice.password);
    expect(h.isClientRedirect(end.url)).toBe(true);
  });

  it('holds a concurrent flood to the instance ceiling of sign-in attempts: the rest hear "busy"', async () => {
    // 3 per minute: nothing refills during the burst, so exactly 3 get a password check.
    limit({ perInstance: { limit: 3, windowSeconds: 60 } });
    const forms = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const b = new ProxiedBrowser(`192.0.2.${100 + i}`);
        return { b, form: await formIn(b) };
      }),
    );
    const burst = await Promise.all(forms.map(({ b, form }) => attempt(b, form, 'wrong-guess')));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const r of burst.filter((x) => x.status === 429)) expect(pageText(r.html)).toMatch(/busy/i);
    expect(statuses.some((s) => s >= 500)).toBe(false);
  });
});
