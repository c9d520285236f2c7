import { signedCookie } from 'cookie-parser';
import { RevocationFeed } from '../../src/access/revocation-feed.service';
import { UserLinksService } from '../../src/authkit/user-links.service';
import { LocalLoginService } from '../../src/legacy-session/local-login.service';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { externalAuthIdHash, LoginTransactionService } from '../../src/login/login-transaction.service';
import { ACME, GLOBEX, LEGACY_USERS } from '../fixtures/legacy-app';
import { usingPostgres } from '../helpers/database';
import { Browser } from './browser';
import { scrape, startHarness, type Harness } from './harness';

/**
 * Statements a whole sign-in sends to the database (database_statements_total on GET /metrics),
 * from the Login URI to the redirect back to the MCP client, for a fresh browser unless said
 * otherwise, on PGlite and on PostgreSQL alike. Every one is a round trip that waits its turn under load: a change that
 * adds one has to lift its ceiling here, on purpose.
 *
 * local: the Login URI (count the visit and write the transaction, marked as sent to the form),
 * then the form (the transaction, the three sign-in limits, the user, forgiving this address's
 * failures, the session, the claim, and the completion's transaction, user link and audit row).
 * "Continue as" (local, a browser already signed in): the Login URI (its session and user, then
 * count and write), Continue (the transaction, the session and user, the claim, the three writes).
 * session-introspection: the Login URI (count and write), Continue (read, mark sent to the
 * legacy login), back from it (read, claim, and the same three completion writes).
 */
const CEILING = {
  local: { first: 10, again: 10, continueAs: 8 },
  introspection: { first: 8, again: 8 },
};

const [alice] = LEGACY_USERS;
const counts: Record<string, Record<string, { outside: number; inside: number; total: number }>> = {};

/** database_statements_total now, by in_transaction. */
async function statements(h: Harness): Promise<{ outside: number; inside: number }> {
  const samples = await scrape(h.url, 'database_statements_total');
  const value = (label: string) => samples.find((s) => s.labels.in_transaction === label)?.value ?? NaN;
  return { outside: value('false'), inside: value('true') };
}

/** Runs `act`; answers the statements sent meanwhile (by in_transaction, and in all). */
async function counted(
  h: Harness,
  act: () => Promise<unknown>,
): Promise<{ outside: number; inside: number; total: number }> {
  const before = await statements(h);
  await act();
  const after = await statements(h);
  const outside = after.outside - before.outside;
  const inside = after.inside - before.inside;
  return { outside, inside, total: outside + inside };
}

/** The bridge with nothing of its own reading the database in the background (the revocation poll). */
async function quietHarness(strategy: 'local' | 'session-introspection'): Promise<Harness> {
  const h = await startHarness({ strategy });
  jest.spyOn(h.app.get(RevocationFeed), 'poll').mockResolvedValue(undefined);
  return h;
}

afterAll(() => {
  console.log(
    `database statements per sign-in (${usingPostgres() ? 'PostgreSQL' : 'PGlite'}):\n${JSON.stringify(counts, null, 2)}`,
  );
});

describe('database round trips of a sign-in, local strategy', () => {
  let h: Harness;
  const who = { email: 'rita@example.com', password: 'rita-password-1' };

  beforeAll(async () => {
    h = await quietHarness('local');
    await h.app
      .get(LocalUsersService)
      .create({ ...who, firstName: 'Rita', roles: ['reader'], tenants: [ACME] });
  });
  afterAll(() => h.close());

  const signIn = () => signInWith(new Browser());
  const signInWith = async (b: Browser) => {
    const form = await b.go(h.authorizeUrl());
    expect(form.html).toContain('action="/auth/login/local"');
    const end = await b.submit(form, '/auth/login/local', who, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
  };

  it('counts every statement of a transaction, BEGIN and COMMIT included', async () => {
    const n = await counted(h, () =>
      h.prisma.$transaction(async (tx) => {
        await tx.localUser.count();
        await tx.loginTransaction.count();
      }),
    );
    expect(n).toEqual({ outside: 0, inside: 4, total: 4 });
  });

  it('first sign-in of a person', async () => {
    const n = await counted(h, signIn);
    (counts.local ??= {}).first = n;
    expect(n.total).toBeLessThanOrEqual(CEILING.local.first);
  });

  it('a later sign-in from another browser', async () => {
    const n = await counted(h, signIn);
    (counts.local ??= {}).again = n;
    expect(n.total).toBeLessThanOrEqual(CEILING.local.again);
  });

  it('a sign-in from a browser already signed in ("Continue as")', async () => {
    const b = new Browser();
    await signInWith(b);
    const n = await counted(h, async () => {
      const confirm = await b.go(h.authorizeUrl());
      expect(confirm.html).toContain('action="/auth/login/confirm"');
      const end = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
      expect(h.isClientRedirect(end.url)).toBe(true);
    });
    (counts.local ??= {}).continueAs = n;
    expect(n.total).toBeLessThanOrEqual(CEILING.local.continueAs);
    // The session and its user, read in one statement, are the user as findActive reads it.
    const cookie = decodeURIComponent(b.cookiesFor(`${h.url}/auth/login`).cbridge_session);
    const user = await h.app
      .get(LocalLoginService)
      .sessionUser(signedCookie(cookie, h.config.session.secret));
    expect(user).toEqual(await h.app.get(LocalUsersService).findActive(user!.id));
    expect(user).toMatchObject({
      email: who.email,
      firstName: 'Rita',
      roles: ['reader'],
      tenants: [ACME],
    });
  });

  it('counts limits in turn in one statement, each only while the ones before it held', async () => {
    const limiter = h.app.get(RateLimiterService);
    const [a, b, c] = ['a', 'b', 'c'].map((k) => RateLimiterService.key('test-turn', k));
    const limits = [
      { key: a, limit: 2, windowSeconds: 60 },
      { key: b, limit: 1, windowSeconds: 60 },
      { key: c, limit: 5, windowSeconds: 60 },
    ];
    const stored = async () => Promise.all([a, b, c].map(async (k) => (await limiter.peek(k)).count));
    const n = await counted(h, () => limiter.hitInTurn(limits));
    expect(n).toEqual({ outside: 1, inside: 0, total: 1 });
    expect(await stored()).toEqual([1, 1, 1]);
    // b goes over: c is not counted.
    const second = await limiter.hitInTurn(limits);
    expect(second.map((s) => s.count)).toEqual([2, 2]);
    expect(second[1].retryAfterSeconds).toBeGreaterThan(50);
    // a goes over: nothing after it is counted.
    expect((await limiter.hitInTurn(limits)).map((s) => s.count)).toEqual([3]);
    expect(await stored()).toEqual([3, 2, 1]);
    // Concurrent attempts: every one counted exactly once.
    await limiter.reset(a);
    const burst = await Promise.all(
      Array.from({ length: 8 }, () => limiter.hitInTurn([{ ...limits[0], limit: 100 }])),
    );
    expect(burst.map(([s]) => s.count).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The right password: one address's count goes, one event of the account's is taken back.
    await limiter.resetAndUndo(b, c);
    expect(await stored()).toEqual([8, 0, 0]);
  });

  it('writes a transaction within the Login URI limit only, and never for a completed external_auth_id', async () => {
    const transactions = h.app.get(LoginTransactionService);
    const startLimit = { key: RateLimiterService.key('test-start', 'x'), limit: 2, windowSeconds: 60 };
    const at = new Date(Date.now() - 5000);
    const input = {
      externalAuthId: 'ext_auth_round_trips_1',
      strategy: 'local',
      ttlSeconds: 600,
      counted: startLimit,
    };
    const first = await transactions.create({ ...input, loginRedirectAt: at });
    expect(first.limit.count).toBe(1);
    const stored = await h.prisma.loginTransaction.findUnique({ where: { id: first.created!.tx.id } });
    expect(first.created!.tx).toEqual(stored);
    expect(stored).toMatchObject({
      status: 'pending',
      loginRedirectAt: at,
      legacyRedirects: 0,
      strategy: 'local',
    });
    await transactions.markCompleted(stored!.id);
    const replay = await transactions.create(input);
    expect(replay).toEqual({ created: null, limit: expect.objectContaining({ count: 2 }) });
    const over = await transactions.create({ ...input, externalAuthId: 'ext_auth_round_trips_2' });
    expect(over).toEqual({ created: null, limit: expect.objectContaining({ count: 3 }) });
    const hashOf = (id: string) => ({ externalAuthIdHash: externalAuthIdHash(id) });
    expect(await h.prisma.loginTransaction.count({ where: hashOf('ext_auth_round_trips_1') })).toBe(1);
    expect(await h.prisma.loginTransaction.count({ where: hashOf('ext_auth_round_trips_2') })).toBe(0);
  });
});

describe('database round trips of a sign-in, session-introspection strategy', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await quietHarness('session-introspection');
  });
  afterAll(() => h.close());

  /** "Asking to connect", Continue, the legacy app's login, back to the bridge, on to the client. */
  const signIn = async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl());
    expect(ask.html).toContain('action="/auth/login/connect"');
    const loginPage = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
    expect(loginPage.url.startsWith(`${h.legacy!.loginUrl}?`)).toBe(true);
    const end = await b.submit(
      loginPage,
      '/login',
      { email: alice.email, password: alice.password },
      h.isClientRedirect,
    );
    expect(h.isClientRedirect(end.url)).toBe(true);
  };

  it('first sign-in of a person', async () => {
    const n = await counted(h, signIn);
    (counts.introspection ??= {}).first = n;
    expect(n.total).toBeLessThanOrEqual(CEILING.introspection.first);
  });

  it('a later sign-in from another browser', async () => {
    const n = await counted(h, signIn);
    (counts.introspection ??= {}).again = n;
    expect(n.total).toBeLessThanOrEqual(CEILING.introspection.again);
  });

  it('records a sign-in in one statement: the link, and news for every instance only when something changed', async () => {
    const links = h.app.get(UserLinksService);
    const news = () =>
      h.prisma.grantRevocation.findMany({ where: { legacyUserId: 'u-round' }, orderBy: { seq: 'asc' } });
    const user = {
      id: 'u-round',
      email: 'round@example.com',
      firstName: 'Round',
      roles: ['a'],
      tenants: [ACME],
    };
    const first = new Date(Date.now() - 60_000);
    expect(await counted(h, () => links.recordLogin(user, first))).toEqual({
      outside: 1,
      inside: 0,
      total: 1,
    });
    const link = () => h.prisma.userLink.findUnique({ where: { legacyUserId: 'u-round' } });
    expect(await link()).toMatchObject({
      email: 'round@example.com',
      firstName: 'Round',
      lastName: null,
      roles: ['a'],
      tenants: [ACME],
      active: true,
      checkedAt: first,
      lastLoginAt: first,
      createdAt: first,
      updatedAt: first,
    });
    expect(await news()).toEqual([]);
    // Nothing changed (a recheck claim is let go all the same): no news.
    await h.prisma.userLink.update({
      where: { legacyUserId: 'u-round' },
      data: { checkClaimedAt: new Date() },
    });
    const second = new Date(Date.now() - 30_000);
    await links.recordLogin({ ...user, lastName: 'Trip' }, second);
    expect(await link()).toMatchObject({
      lastName: 'Trip',
      lastLoginAt: second,
      checkClaimedAt: null,
      createdAt: first,
    });
    expect(await news()).toEqual([]);
    // Roles, tenants or status changed: one `identity` row each time.
    await links.recordLogin({ ...user, roles: ['a', 'b'] }, second);
    await links.recordLogin({ ...user, roles: ['a', 'b'], tenants: [ACME, GLOBEX] }, second);
    await h.prisma.userLink.update({ where: { legacyUserId: 'u-round' }, data: { active: false } });
    await links.recordLogin({ ...user, roles: ['a', 'b'], tenants: [ACME, GLOBEX] }, second);
    expect(await link()).toMatchObject({ roles: ['a', 'b'], tenants: [ACME, GLOBEX], active: true });
    expect(await news()).toEqual([
      expect.objectContaining({ kind: 'identity', legacyUserId: 'u-round' }),
      expect.objectContaining({ kind: 'identity', legacyUserId: 'u-round' }),
      expect.objectContaining({ kind: 'identity', legacyUserId: 'u-round' }),
    ]);
  });
});
