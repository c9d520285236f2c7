/**
 * PostgreSQL restarted (crash-stopped, then started) while login flows, MCP calls and readiness
 * probes keep coming. Requests during the outage fail cleanly (503, never a 500 or a crash), the
 * service recovers by itself, and no transaction is left half-written: every completed row is
 * whole, and AuthKit completed nothing twice. Runs on a private throwaway cluster, never on the
 * machine's shared PostgreSQL.
 */
import request from 'supertest';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { DEFAULT_LOGIN_RATE_LIMITS, RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { externalAuthIdHash } from '../../src/login/login-transaction.service';
import { Browser } from '../login/browser';
import { externalAuthIdOf, startHarness, type Harness } from '../login/harness';
import { MCP_HEADERS, toolCall } from '../mcp/helpers';
import { privatePostgresUnavailable, startPrivatePostgres, type PrivatePostgres } from './private-postgres';
import { describeUnless } from '../helpers/skip';

const unavailable = privatePostgresUnavailable();
const suite = describeUnless(unavailable, __filename);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite(`PostgreSQL restarted mid-traffic${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let pg: PrivatePostgres;
  let h: Harness;
  const carol = { email: 'carol@example.com', password: 'carol-password-1' };

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    h = await startHarness({
      strategy: 'local',
      db: {
        database: { kind: 'postgres', url: pg.url, autoMigrate: true },
        dispose: async () => undefined,
        drop: async () => undefined,
      },
    });
    await h.app.get(LocalUsersService).create(carol);
    h.app.get(RateLimiterService).limits = {
      ...DEFAULT_LOGIN_RATE_LIMITS,
      perIp: { limit: 1_000_000, windowSeconds: 900 },
      loginStartPerIp: { limit: 1_000_000, windowSeconds: 900 },
    };
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    pg?.dispose();
  });

  it('answers 503 during the outage, recovers without a restart, and leaves no transaction half-written', async () => {
    const statuses = new Map<string, number[]>();
    const note = (what: string, status: number) =>
      statuses.set(what, [...(statuses.get(what) ?? []), status]);
    const bad: string[] = [];
    const check = (what: string, res: { status: number; headers: Headers | Record<string, unknown> }) => {
      note(what, res.status);
      if (res.status >= 500 && res.status !== 503) bad.push(`${what}: ${res.status}`);
    };
    let running = true;
    const completedExts: string[] = [];

    const logins = async () => {
      while (running) {
        const b = new Browser();
        const page = await b.go(h.authorizeUrl()).catch(() => ({ status: -1, html: '', url: '' }));
        check('login start', { status: page.status, headers: {} });
        if (page.status !== 200 || !page.html.includes('/auth/login/local')) continue;
        const end = await b
          .submit(page as never, '/auth/login/local', carol, h.isClientRedirect)
          .catch(() => ({ status: -1, url: '' }));
        check('sign-in', { status: end.status, headers: {} });
        if (h.isClientRedirect(end.url))
          completedExts.push(externalAuthIdOf(b.history.find((u) => u.includes('external_auth_id='))!));
      }
    };
    const mcp = async () => {
      while (running) {
        // a new user each time: the identity lookup goes to the database
        const token = await h.emulator.mintAccessToken({ aud: `${h.url}/mcp`, sub: `user_${Math.random()}` });
        const res = await request(h.url)
          .post('/mcp')
          .set(MCP_HEADERS)
          .set('Authorization', `Bearer ${token}`)
          .send(toolCall('whoami'));
        check('mcp', res);
      }
    };
    const probes = async () => {
      while (running) {
        const res = await request(h.url).get('/readyz');
        check('readyz', res);
        await sleep(50);
      }
    };

    const traffic = Promise.all([logins(), logins(), logins(), mcp(), mcp(), probes()]);
    await sleep(1000);
    pg.stop('immediate'); // a crash: connections cut, no goodbye
    const downAt = Date.now();
    await sleep(1500);
    const readyWhileDown = await request(h.url).get('/readyz');
    const loginWhileDown = await request(h.url)
      .get('/auth/login?external_auth_id=ext_auth_outage_0001')
      .set('Accept', 'text/html');
    pg.start();
    const upAt = Date.now();
    await sleep(2000);
    running = false;
    await traffic;

    // During the outage: clean 503s with a page and Retry-After, never a 500.
    expect(bad).toEqual([]);
    expect(readyWhileDown.status).toBe(503);
    expect(loginWhileDown.status).toBe(503);
    expect(loginWhileDown.headers['retry-after']).toBeDefined();
    expect(loginWhileDown.text).toContain('Temporarily unavailable');
    expect(statuses.get('login start')).toContain(503);
    expect(upAt - downAt).toBeGreaterThan(1000);

    // Recovered, same process: ready, and a whole new sign-in completes.
    expect((await request(h.url).get('/readyz')).status).toBe(200);
    const b = new Browser();
    const end = await b.submit(await b.go(h.authorizeUrl()), '/auth/login/local', carol, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
    completedExts.push(externalAuthIdOf(b.history.find((u) => u.includes('external_auth_id='))!));

    // Nothing half-written: every row is whole; AuthKit completed each flow at most once.
    const rows = await h.prisma.loginTransaction.findMany();
    for (const row of rows) {
      expect(['pending', 'completed', 'failed', 'expired']).toContain(row.status);
      if (row.status === 'completed') {
        expect(row.completedAt).not.toBeNull();
        expect(row.completingAt).toBeNull();
        expect(row.legacyUserId).not.toBeNull();
      }
    }
    const landed = new Map<string, number>();
    for (const c of h.emulator.completionCalls().filter((c) => c.status === 200))
      landed.set(c.externalAuthId, (landed.get(c.externalAuthId) ?? 0) + 1);
    expect([...landed.values()].every((n) => n === 1)).toBe(true);
    // Every flow the browser saw complete is completed in the database, with its success audit row.
    // (an ended flow keeps only the SHA-256 of its external_auth_id)
    const byExt = new Map(rows.map((r) => [r.externalAuthIdHash, r]));
    const successes = new Set(
      (await h.audit()).filter((a) => a.outcome === 'success').map((a) => a.transactionId),
    );
    for (const ext of completedExts) {
      expect(byExt.get(externalAuthIdHash(ext))?.status).toBe('completed');
      expect(successes.has(byExt.get(externalAuthIdHash(ext))!.id)).toBe(true);
    }
    expect(completedExts.length).toBeGreaterThan(3);
  }, 60_000);

  it('records a completion that AuthKit accepted while the database was down, once it is back', async () => {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl());
    h.emulator.injectCompletionFault({ delayMs: 1200, times: 1 }); // slow, then it lands
    const submitted = b.submit(form, '/auth/login/local', carol, h.isClientRedirect);
    await sleep(400); // claimed, the completion call in flight
    pg.stop('immediate');
    const end = await submitted;
    expect(h.isClientRedirect(end.url)).toBe(true); // AuthKit completed: the browser goes on regardless
    pg.start();
    const ext = externalAuthIdOf(b.history.find((u) => u.includes('external_auth_id='))!);
    let row = null;
    for (let i = 0; i < 100 && row?.status !== 'completed'; i++) {
      await sleep(200);
      row = await h.prisma.loginTransaction
        .findFirst({ where: { externalAuthIdHash: externalAuthIdHash(ext) } })
        .catch(() => null);
    }
    expect(row).toMatchObject({ status: 'completed', completingAt: null });
    let audit: Awaited<ReturnType<Harness['audit']>> = [];
    for (
      let i = 0;
      i < 50 && !audit.some((a) => a.transactionId === row!.id && a.outcome === 'success');
      i++
    ) {
      await sleep(200);
      audit = await h.audit();
    }
    expect(audit.filter((a) => a.transactionId === row!.id && a.outcome === 'success')).toHaveLength(1);
    expect(
      h.emulator.completionCalls().filter((c) => c.externalAuthId === ext && c.status === 200),
    ).toHaveLength(1);
  }, 60_000);
});
