/**
 * AuthKit misbehaving: the completion API answering 500, 429, too late or not at all; AuthKit's
 * key set unreachable; keys rotated. The person sees a retry page, the transaction is kept, no
 * completion is ever sent twice, and the retry works once AuthKit is back. MCP tokens keep
 * verifying with the cached keys while the key set cannot be fetched, and readiness says so.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { externalAuthIdHash } from '../../src/login/login-transaction.service';
import { Clock } from '../../src/mcp/clock';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { Browser, pageText } from '../login/browser';
import { externalAuthIdOf, startHarness, type Harness } from '../login/harness';
import { MCP_HEADERS, startBridge, toolCall, type Bridge } from '../mcp/helpers';

describe('the completion API fails: retry page, nothing lost, nothing sent twice', () => {
  let h: Harness;
  const carol = { email: 'carol@example.com', password: 'carol-password-1' };

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local', env: { AUTHKIT_COMPLETE_TIMEOUT_MS: '1000' } });
    await h.app.get(LocalUsersService).create(carol);
  });
  afterAll(() => h.close());

  /** Signs carol in on a fresh flow; returns the browser, the page and the flow's external_auth_id. */
  async function signIn() {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl());
    const page = await b.submit(form, '/auth/login/local', carol, h.isClientRedirect);
    const ext = externalAuthIdOf(b.history.find((u) => u.includes('external_auth_id='))!);
    const calls = () => h.emulator.completionCalls().filter((c) => c.externalAuthId === ext);
    const tx = () =>
      h.prisma.loginTransaction.findFirstOrThrow({ where: { externalAuthIdHash: externalAuthIdHash(ext) } });
    return { b, page, ext, calls, tx };
  }

  it.each<[string, Parameters<RunningEmulator['injectCompletionFault']>[0]]>([
    ['HTTP 500', { status: 500 }],
    ['HTTP 502', { status: 502 }],
    ['HTTP 429 (rate limited)', { status: 429, body: { message: 'Too many requests' } }],
    ['a timeout (no answer within AUTHKIT_COMPLETE_TIMEOUT_MS)', { delayMs: 1500, status: 503 }],
    ['a connection reset', { resetConnection: true }],
  ])(
    '%s: a retry page, the transaction kept, and the retry completes once AuthKit is back',
    async (_what, fault) => {
      h.emulator.injectCompletionFault({ ...fault, times: 1 });
      const { b, page, calls, tx } = await signIn();
      expect(page.status).toBe(503);
      expect(pageText(page.html)).toContain('AuthKit did not answer');
      expect(page.html).toContain('action="/auth/login/retry"');
      // The transaction is pending, unclaimed, with the reason; AuthKit completed nothing.
      expect(await tx()).toMatchObject({
        status: 'pending',
        completingAt: null,
        errorCode: 'authkit_unavailable',
      });
      expect(calls().filter((c) => c.status === 200)).toHaveLength(0);
      expect((await h.audit()).at(-1)).toMatchObject({
        outcome: 'failure',
        errorCode: 'authkit_unavailable',
      });
      // AuthKit is back: the person's own retry completes, exactly once.
      const end = await b.submit(page, '/auth/login/retry', {}, h.isClientRedirect);
      expect(h.isClientRedirect(end.url)).toBe(true);
      expect(calls().filter((c) => c.status === 200)).toHaveLength(1);
      expect(await tx()).toMatchObject({ status: 'completed', completingAt: null });
      expect((await h.audit()).at(-1)).toMatchObject({ outcome: 'success' });
    },
  );

  it('a lost answer (AuthKit completed, then the connection broke): the retry tells the truth, no second completion', async () => {
    h.emulator.injectCompletionFault({ resetConnection: true, afterCommit: true, times: 1 });
    const { b, page, calls } = await signIn();
    expect(page.status).toBe(503);
    const again = await b.submit(page, '/auth/login/retry');
    expect(again.status).toBe(409);
    expect(pageText(again.html)).toContain('already completed');
    expect(calls().filter((c) => c.status === 200)).toHaveLength(1);
  });

  it('many retries at once while AuthKit is slow: one completion call, the others wait', async () => {
    h.emulator.injectCompletionFault({ status: 500, times: 1 });
    const { b, page, calls } = await signIn();
    h.emulator.injectCompletionFault({ delayMs: 400, times: 1 }); // slow, then succeeds
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => b.submit(page, '/auth/login/retry', {}, h.isClientRedirect)),
    );
    const redirected = answers.filter((a) => h.isClientRedirect(a.url));
    expect(redirected).toHaveLength(1);
    for (const a of answers.filter((x) => !h.isClientRedirect(x.url))) expect([409]).toContain(a.status);
    expect(calls().filter((c) => c.status === 200)).toHaveLength(1);
    expect(calls()).toHaveLength(2); // the failed one and the one that landed
  });
});

/** /readyz shows the details of its checks only with the admin API's token. */
const ADMIN_TOKEN = 'faults-suite-admin-token-0123456789';

/** An HTTP front for the emulator that can be switched off: AuthKit's domain going away. */
async function startSwitchableFront() {
  const front = { target: '', mode: 'pass' as 'pass' | 'down' | 'error', requests: 0 };
  const server: Server = createServer((req, res) => {
    front.requests++;
    if (front.mode === 'down') return void req.socket.destroy();
    if (front.mode === 'error') return void res.writeHead(502).end('bad gateway');
    fetch(`${front.target}${req.url}`, { method: req.method, headers: { accept: 'application/json' } }).then(
      async (answer) => {
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        });
        res.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => req.socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(front, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

describe("AuthKit's keys: outage and rotation", () => {
  let front: Awaited<ReturnType<typeof startSwitchableFront>>;
  let emulator: RunningEmulator;
  let db: TestDatabase;
  let bridge: Bridge;
  let aud: string;

  beforeAll(async () => {
    front = await startSwitchableFront();
    // The issuer (AUTHKIT_DOMAIN: metadata and JWKS) is the switchable front; the API is reached directly.
    emulator = await startEmulator({
      issuer: front.url,
      loginUri: 'http://127.0.0.1:9/auth/login',
      enableTestControl: true,
    });
    front.target = emulator.url;
    db = await createTestDatabase();
    bridge = await startBridge(emulator, db.database, { LOG_LEVEL: 'silent', ADMIN_API_TOKEN: ADMIN_TOKEN });
    aud = bridge.mcpUrl;
  });
  afterAll(async () => {
    await bridge.close();
    await emulator.close();
    await front.close();
    await db.dispose();
  });

  const call = async (token: string) =>
    request(bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', `Bearer ${token}`)
      .send(toolCall('whoami'));
  const mint = (o: Parameters<RunningEmulator['mintAccessToken']>[1] = {}) =>
    emulator.mintAccessToken({ aud }, { expiresInSeconds: 7200, ...o });

  it('accepts a key rotated in (one refetch, once the cooldown of the last fetch is over), and the previous key during its grace period', async () => {
    expect((await call(await mint())).status).toBe(200); // the key set is fetched (boot) and used
    await emulator.rotateKeys({ graceSeconds: 300 });
    // An unknown kid makes the bridge refetch only when its last fetch is older than the cooldown
    // (30 s): before that it is refused at once, like a made-up one (which may not hold requests
    // or make the bridge ask AuthKit every second). Here the boot fetch is 31 s old.
    const spy = jest.spyOn(bridge.app.get(Clock), 'now').mockImplementation(() => Date.now() + 31_000);
    try {
      const fetchesBefore = front.requests;
      expect((await call(await mint())).status).toBe(200); // new kid: one refetch, no waiting
      expect(front.requests - fetchesBefore).toBe(1);
      expect((await call(await mint({ key: 'previous' }))).status).toBe(200);
      // a made-up kid is refused, and repeating it does not make the bridge ask AuthKit again
      const before = front.requests;
      const madeUp = await mint({ key: 'unknown' });
      for (let i = 0; i < 5; i++) expect((await call(madeUp)).status).toBe(401);
      expect(front.requests - before).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps verifying with the cached keys while the key set is unreachable; readiness reports it', async () => {
    const clock = bridge.app.get(Clock);
    front.mode = 'down';
    try {
      expect((await call(await mint())).status).toBe(200);
      // Eleven minutes later the cached set is past its age: refreshes fail, the set stays in use.
      const spy = jest.spyOn(clock, 'now').mockImplementation(() => Date.now() + 11 * 60_000);
      try {
        expect((await call(await mint())).status).toBe(200);
        const ready = await request(bridge.url).get('/readyz').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
        expect(ready.body.details.authkit_jwks).toMatchObject({
          status: 'up',
          stale: true,
          lastError: expect.stringMatching(/oauth2\/jwks failed/),
        });
        // A token signed with a key rotated in during the outage cannot be checked: 503, not 401.
        await emulator.rotateKeys({ graceSeconds: 300 });
        const rotated = await mint();
        const refused = await call(rotated);
        expect(refused.status).toBe(503);
        expect(refused.headers['retry-after']).toBeDefined();
        expect(refused.headers['www-authenticate']).toBeUndefined();
        // AuthKit is back: the same token is accepted (after at most the refetch interval) and readiness is clean.
        front.mode = 'pass';
        await new Promise((r) => setTimeout(r, 1100));
        expect((await call(rotated)).status).toBe(200);
        const again = await request(bridge.url).get('/readyz').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
        expect(again.status).toBe(200);
        expect(again.body.details.authkit_jwks.lastError).toBeUndefined();
      } finally {
        spy.mockRestore();
      }
    } finally {
      front.mode = 'pass';
    }
  });
});
