/**
 * The deployment of docs/deploy.md, for real: Debian's nginx running the guide's own site file
 * (docs/deploy/nginx.conf, placeholders filled in) terminates TLS with a certificate of a test CA
 * made here with openssl, in front of two compiled bridge processes (`node dist/src/main.js`) on
 * one PostgreSQL, with PUBLIC_URL=https://127.0.0.1:<nginx> and TRUST_PROXY=loopback. The AuthKit
 * emulator stays on http on loopback, which outside production is allowed: the instances run with
 * NODE_ENV=test.
 *
 * Through the proxy: the v2 MCP SDK client's whole OAuth flow; Chromium's sign-in (trusting the
 * server certificate by its key, --ignore-certificate-errors-spki-list); Secure cookies and HSTS;
 * rate limits and the audit log by the address nginx saw, never a client-sent X-Forwarded-For; a
 * sign-in begun on one instance and finished on the other after the first was stopped; and a
 * rolling restart of both instances (SIGTERM) during MCP traffic and sign-ins, counted: nothing
 * lost (numbers in test-artifacts/reverse-proxy-zero-downtime.json).
 *
 * The test process's own HTTPS clients (fetch: the SDK, the scripted browser) trust the test CA
 * through tls.setDefaultCACertificates (Node 24): certificate verification stays on.
 *
 * PostgreSQL only (two processes share the database); skipped with the reason without nginx or
 * openssl (.ci/run installs nginx-light). The Chromium test is skipped without /usr/bin/chromium.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Client } from 'pg';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { BrowserOAuthProvider, connectClient, whoami, type Exchange, type McpClient } from '../e2e/mcp-flow';
import {
  REPO_ROOT,
  childEnv,
  ensureBuilt,
  spawnCaptured,
  startBuiltServer,
  type BuiltServer,
} from '../helpers/built-server';
import { emulatorEnv } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { hasChromium, launchChromium } from '../helpers/chromium';
import { freePort } from '../helpers/ports';
import {
  NGINX_SITE_TEMPLATE,
  fillTemplate,
  findExecutable,
  makeTestPki,
  placeholdersOf,
  startNginx,
  type AccessLogEntry,
  type RunningNginx,
  type TestPki,
} from '../helpers/reverse-proxy';
import { describeUnless, NEEDS_POSTGRES } from '../helpers/skip';
import { Browser, formFields, type Page } from '../login/browser';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  clientAuthorize,
  externalAuthIdOf,
  isClientRedirect,
} from '../login/harness';
import { MCP_HEADERS, toolCall } from '../mcp/helpers';

const NGINX = findExecutable('nginx');
const OPENSSL = findExecutable('openssl');
const REASON =
  NEEDS_POSTGRES ??
  (!NGINX
    ? 'needs nginx (apt-get install nginx-light; .ci/run does)'
    : !OPENSSL
      ? 'needs openssl (apt-get install openssl)'
      : undefined);
const ARTIFACT = join(REPO_ROOT, 'test-artifacts', 'reverse-proxy-zero-downtime.json');

jest.setTimeout(240_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Name = 'A' | 'B';
interface Person {
  email: string;
  password: string;
  id?: string;
}
const credentials = ({ email, password }: Person) => ({ email, password });

describeUnless(REASON, __filename)('nginx from the deploy guide in front of two instances, over TLS', () => {
  const originalCAs = tls.getCACertificates('default');
  const alice: Person = { email: 'alice@example.com', password: `alice-${randomBytes(6).toString('hex')}` };
  const lanes: Person[] = [0, 1].map((i) => ({
    email: `lane${i}@example.com`,
    password: `lane-${i}-${randomBytes(6).toString('hex')}`,
  }));
  let dir: string;
  let pki: TestPki;
  let db: TestDatabase;
  let databaseUrl: string;
  let emulator: RunningEmulator;
  let nginx: RunningNginx;
  let publicUrl: string;
  let httpPort: number;
  let env: Record<string, string>;
  const ports = {} as Record<Name, number>;
  const servers = {} as Record<Name, BuiltServer>;
  const addressOf = (name: Name) => `127.0.0.1:${ports[name]}`;
  /** The instance that finally answered a request of the access log. */
  const answeredBy = (entry: AccessLogEntry): Name | undefined => {
    const last = entry.upstream.split(',').pop()!.trim();
    return (['A', 'B'] as const).find((n) => addressOf(n) === last);
  };

  /** The access log's entries matching `match`, once there are `count` (nginx logs just after answering). */
  const logged = async (match: (e: AccessLogEntry) => boolean, count = 1): Promise<AccessLogEntry[]> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const found = nginx.accessLog().filter(match);
      if (found.length >= count || Date.now() > deadline) return found;
      await sleep(20);
    }
  };

  const query = async <T>(sql: string, values: unknown[] = []): Promise<T[]> => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql, values)).rows as T[];
    } finally {
      await client.end();
    }
  };

  const startInstance = async (name: Name): Promise<BuiltServer> => {
    servers[name] = await startBuiltServer({ env: { ...env, PORT: String(ports[name]) } });
    return servers[name];
  };

  /**
   * Waits until nginx has sent `name` a request (after `sinceSeconds`) that it answered itself: a
   * refused connection keeps an instance out of the rotation for 2 s (fail_timeout).
   */
  const waitUntilServing = async (name: Name, sinceSeconds: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!nginx.accessLog().some((e) => e.msec >= sinceSeconds && e.upstream === addressOf(name))) {
      if (Date.now() > deadline) throw new Error(`nginx sent nothing to ${name} within ${timeoutMs} ms`);
      await fetch(`${publicUrl}/healthz`).then((r) => r.text());
      await sleep(100);
    }
  };

  beforeAll(async () => {
    const built = ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'cb-nginx-'));
    pki = makeTestPki(join(dir, 'pki'));
    // This process's HTTPS clients trust the test CA too; verification stays on.
    tls.setDefaultCACertificates([...originalCAs, pki.caPem]);
    let httpsPort: number;
    [httpsPort, httpPort, ports.A, ports.B] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    publicUrl = `https://127.0.0.1:${httpsPort}`;
    db = await createTestDatabase({ autoMigrate: false });
    if (db.database.kind !== 'postgres') throw new Error('PostgreSQL expected');
    databaseUrl = db.database.url;
    emulator = await startEmulator({
      loginUri: `${publicUrl}/auth/login`,
      apiKey: `sk_test_${randomBytes(12).toString('hex')}`,
      enableTestControl: true,
      clients: [{ clientId: CLIENT_ID, redirectUris: [CLIENT_REDIRECT] }],
    });
    await built;

    // As the guide deploys: migrations first (only DATABASE_URL), local users with the CLI.
    const migrate = spawnCaptured(process.execPath, [join(REPO_ROOT, 'dist/src/cli/db-migrate.js')], {
      env: childEnv({ NODE_ENV: 'production', DATABASE_URL: databaseUrl }),
    });
    if ((await migrate.exited).code !== 0) throw new Error(`db-migrate failed:\n${migrate.text}`);
    for (const person of [alice, ...lanes]) {
      const added = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'dist/src/cli/users-add.js'), '--email', person.email, '--password-stdin'],
        {
          env: childEnv({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }),
          input: `${person.password}\n`,
          encoding: 'utf8',
        },
      );
      person.id = /Added \S+ \(id ([^)]+)\)/.exec(added.stdout)?.[1];
      if (added.status !== 0 || !person.id)
        throw new Error(`users:add failed: ${added.stdout}${added.stderr}`);
    }

    env = {
      NODE_ENV: 'test', // the emulator is http on loopback; production would refuse it
      PUBLIC_URL: publicUrl,
      DATABASE_URL: databaseUrl,
      ...emulatorEnv(emulator),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      TRUST_PROXY: 'loopback', // nginx on the same machine, as the guide says
      LEGACY_AUTH_STRATEGY: 'local',
      // Every scripted sign-in comes from 127.0.0.1: the per-address form limit would stop them.
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      // The MCP traffic uses tokens minted for made-up WorkOS users.
      MCP_ALLOW_UNLINKED_USERS: 'true',
      LOG_LEVEL: 'info',
    };
    await Promise.all([startInstance('A'), startInstance('B')]);

    const template = readFileSync(NGINX_SITE_TEMPLATE, 'utf8');
    nginx = await startNginx({
      nginx: NGINX!,
      dir: join(dir, 'nginx'),
      site: fillTemplate(template, {
        PUBLIC_URL: publicUrl,
        SERVER_NAME: '127.0.0.1 localhost',
        HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
        HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        CERTIFICATE: pki.certFile,
        CERTIFICATE_KEY: pki.keyFile,
        BRIDGE_1: addressOf('A'),
        BRIDGE_2: addressOf('B'),
      }),
      waitForPort: httpsPort,
    });
  }, 180_000);

  afterAll(async () => {
    tls.setDefaultCACertificates(originalCAs);
    await nginx?.stop();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await emulator?.close();
    await db?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs the guide’s file as written: every placeholder filled, https only, /metrics kept inside', async () => {
    expect(placeholdersOf(readFileSync(NGINX_SITE_TEMPLATE, 'utf8')).sort()).toEqual(
      [
        'BRIDGE_1',
        'BRIDGE_2',
        'CERTIFICATE',
        'CERTIFICATE_KEY',
        'HTTPS_LISTEN',
        'HTTP_LISTEN',
        'PUBLIC_URL',
        'SERVER_NAME',
      ].sort(),
    );
    // Without the test CA the certificate is refused: verification is on.
    const refused = await new Promise<string>((resolve) => {
      const req = httpsRequest(`${publicUrl}/healthz`, { ca: originalCAs }, () => resolve('accepted'));
      req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });
    expect(refused).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/);

    const plain = await fetch(`http://127.0.0.1:${httpPort}/readyz?x=1`, { redirect: 'manual' });
    expect(plain.status).toBe(301);
    expect(plain.headers.get('location')).toBe(`${publicUrl}/readyz?x=1`);
    const ready = await fetch(`${publicUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect((await fetch(`${publicUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${servers.A.url}/metrics`)).status).toBe(200); // the instance's own port
  });

  it('the v2 MCP SDK client runs the whole OAuth flow and calls whoami through nginx', async () => {
    const provider = new BrowserOAuthProvider({
      name: 'reverse-proxy e2e v2 client',
      redirectUrl: 'http://127.0.0.1:9/sdk-callback',
      who: alice,
    });
    const log: Exchange[] = [];
    const before = nginx.accessLog().length;
    let client: McpClient | undefined;
    try {
      client = await connectClient('v2', `${publicUrl}/mcp`, provider, log);
      expect(await whoami(client)).toMatchObject({ legacy_user_id: alice.id, email: alice.email });
      expect(await whoami(client)).toMatchObject({ legacy_user_id: alice.id });
    } finally {
      await client?.close();
    }
    // Every request of the SDK to the bridge went to the public https origin, and nginx spread
    // the flow over both instances.
    const toBridge = log.filter((e) => !e.url.startsWith(emulator.url));
    expect(toBridge.length).toBeGreaterThan(0);
    expect(toBridge.every((e) => e.url.startsWith(`${publicUrl}/`))).toBe(true);
    const served = nginx.accessLog().slice(before);
    expect(new Set(served.map(answeredBy))).toEqual(new Set(['A', 'B']));
    expect(served.filter((e) => e.status >= 500)).toEqual([]);
  });

  it('sets only Secure, HttpOnly cookies and HSTS on the sign-in through the proxy', async () => {
    const b = new Browser();
    const form = await b.go(clientAuthorize(emulator.url, { resource: `${publicUrl}/mcp` }).url);
    expect(form.url.startsWith(`${publicUrl}/auth/login?external_auth_id=`)).toBe(true);
    expect(form.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const cookies: string[] = [...form.headers.getSetCookie()];
    const fields = { email: alice.email, password: alice.password };
    const signedIn: Page = await b.request(`${publicUrl}/auth/login/local`, {
      method: 'POST',
      form: { ...formFields(form.html, '/auth/login/local'), ...fields },
    });
    expect(signedIn.status).toBeGreaterThanOrEqual(300);
    cookies.push(...signedIn.headers.getSetCookie());
    expect(cookies.length).toBeGreaterThanOrEqual(2);
    for (const c of cookies) {
      expect(c).toMatch(/;\s*Secure/i);
      expect(c).toMatch(/;\s*HttpOnly/i);
    }
    const end = await b.go(
      new URL(signedIn.headers.get('location')!, signedIn.url).toString(),
      {},
      isClientRedirect,
    );
    expect(isClientRedirect(end.url)).toBe(true);
  });

  it('counts clients by the address nginx saw: a client-sent X-Forwarded-For changes nothing', async () => {
    // The Login URI allows 120 visits per address in 10 minutes. From 127.0.0.2, each visit
    // claiming another address: the limit still counts them as one client.
    const visit = (from: string, claimed: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          // A malformed id: a 400 page and an audit row with the client's address.
          `${publicUrl}/auth/login?external_auth_id=not-valid!`,
          { localAddress: from, headers: { 'X-Forwarded-For': claimed, Accept: 'text/html' } },
          (res) => {
            res.resume();
            res.once('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.once('error', reject);
        req.end();
      });
    const statuses: number[] = [];
    for (let i = 0; i < 125; i += 5)
      statuses.push(
        ...(await Promise.all([0, 1, 2, 3, 4].map((k) => visit('127.0.0.2', `198.51.100.${(i + k) % 250}`)))),
      );
    expect(statuses.filter((s) => s !== 429)).toHaveLength(120);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    // Claiming to be another client does not escape the limit …
    expect(await visit('127.0.0.2', '127.0.0.3')).toBe(429);
    // … and another client is not charged for it, even when it claims the limited address.
    expect(await visit('127.0.0.3', '127.0.0.2')).not.toBe(429);

    // The audit log holds the addresses nginx saw, never a claimed one.
    const ips = (await query<{ ip: string }>('SELECT DISTINCT ip FROM authorization_audit')).map((r) => r.ip);
    expect(ips).toEqual(expect.arrayContaining(['127.0.0.1', '127.0.0.2', '127.0.0.3']));
    expect(ips.filter((ip) => !['127.0.0.1', '127.0.0.2', '127.0.0.3'].includes(ip))).toEqual([]);
  });

  it('finishes on one instance a sign-in begun on the other, which was stopped in between', async () => {
    const b = new Browser();
    const form = await b.go(clientAuthorize(emulator.url, { resource: `${publicUrl}/mcp` }).url);
    expect(form.status).toBe(200);
    const [began] = await logged((e) => e.id === form.headers.get('x-request-id'));
    const first = answeredBy(began)!;
    const other: Name = first === 'A' ? 'B' : 'A';
    expect(await servers[first].stop()).toEqual({ code: null, signal: 'SIGTERM' });
    const stoppedAt = Date.now() / 1000;
    try {
      const end = await b.submit(form, '/auth/login/local', credentials(alice), isClientRedirect);
      expect(isClientRedirect(end.url)).toBe(true);
      expect(new URL(end.url).searchParams.get('code')).toBeTruthy();
      const finished = await logged(
        (e) => e.msec >= stoppedAt && e.uri === '/auth/login/local' && e.method === 'POST',
      );
      expect(finished.map(answeredBy)).toEqual([other]);
      expect(finished[0].status).toBeLessThan(400);
    } finally {
      const restartedAt = Date.now() / 1000;
      await startInstance(first);
      await waitUntilServing(first, restartedAt);
    }
  });

  it('finishes a sign-in whose AuthKit completion is in flight when its instance gets SIGTERM, then stops', async () => {
    const b = new Browser();
    const form = await b.go(clientAuthorize(emulator.url, { resource: `${publicUrl}/mcp` }).url);
    const ext = externalAuthIdOf(b.history.findLast((u) => u.includes('external_auth_id='))!);
    emulator.injectCompletionFault({ delayMs: 1500, times: 1 }); // AuthKit takes 1.5 s to answer
    // The form goes to instance A itself (its own port, as nginx would hand it over), so that
    // we know which instance to stop while the completion is under way.
    const submitted = b.submit(
      { ...form, url: `${servers.A.url}/auth/login/local` },
      '/auth/login/local',
      credentials(alice),
      isClientRedirect,
    );
    for (let i = 0; i < 200 && !emulator.completionCalls().some((c) => c.externalAuthId === ext); i++)
      await sleep(10);
    const t0 = Date.now();
    const stopped = servers.A.stop();
    const end = await submitted;
    // The instance answered (then wrote the completion and its audit row) before it closed the database.
    expect(isClientRedirect(end.url)).toBe(true);
    expect(new URL(end.url).searchParams.get('code')).toBeTruthy();
    expect(await stopped).toEqual({ code: null, signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeGreaterThan(1000);
    const rows = await query<{ status: string; audited: number }>(
      `SELECT t.status::text AS status,
              (SELECT count(*)::int FROM authorization_audit a WHERE a.transaction_id = t.id AND a.outcome = 'success') AS audited
         FROM login_transactions t WHERE t.external_auth_id_hash = $1`,
      [createHash('sha256').update(ext).digest('hex')],
    );
    expect(rows).toEqual([{ status: 'completed', audited: 1 }]);
    expect(
      emulator
        .completionCalls()
        .filter((c) => c.externalAuthId === ext)
        .map((c) => c.status),
    ).toEqual([200]);
    const shutdown = servers.A.lines
      .filter((l) => l.includes('"context":"Shutdown"'))
      .map((l) => JSON.parse(l));
    expect(shutdown[0]).toMatchObject({ signal: 'SIGTERM', inFlight: 1 });
    const restartedAt = Date.now() / 1000;
    await startInstance('A');
    await waitUntilServing('A', restartedAt);
  });

  (hasChromium() ? it : it.skip)(
    'signs in with Chromium, trusting the server certificate by its key; Secure cookies, the address nginx saw',
    async () => {
      const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${pki.spkiSha256}`]);
      try {
        // A client-sent X-Forwarded-For on every request: nginx replaces it.
        const context = await browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.77' } });
        const page = await context.newPage();
        await page.route(`${CLIENT_REDIRECT}**`, (route) =>
          route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the client' }),
        );
        const landed = await page.goto(clientAuthorize(emulator.url, { resource: `${publicUrl}/mcp` }).url);
        expect(page.url().startsWith(`${publicUrl}/auth/login?external_auth_id=`)).toBe(true);
        expect(landed?.status()).toBe(200);
        expect(landed?.headers()['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
        await page.getByLabel('Email').fill(alice.email);
        await page.getByLabel('Password').fill(alice.password);
        const [back] = await Promise.all([
          page.waitForRequest((r) => r.url().startsWith(CLIENT_REDIRECT)),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ]);
        expect(new URL(back.url()).searchParams.get('code')).toBeTruthy();
        // (the bridge's cookies have Path=/auth: all of the context's, for this host)
        const cookies = (await context.cookies()).filter((c) => c.domain === '127.0.0.1');
        expect(cookies.length).toBeGreaterThanOrEqual(1);
        for (const c of cookies)
          expect({ name: c.name, secure: c.secure, httpOnly: c.httpOnly }).toEqual({
            name: c.name,
            secure: true,
            httpOnly: true,
          });
        // The sign-in's audit row: the address nginx saw, not the one the browser claimed.
        const rows = await query<{ ip: string; outcome: string }>(
          'SELECT ip, outcome::text AS outcome FROM authorization_audit WHERE legacy_user_id = $1 ORDER BY created_at DESC LIMIT 1',
          [alice.id],
        );
        expect(rows).toEqual([{ ip: '127.0.0.1', outcome: 'success' }]);
      } finally {
        await browser.close();
      }
    },
  );

  it('restarts both instances, one after the other (SIGTERM), during MCP traffic and sign-ins: nothing lost', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        emulator.mintAccessToken({ aud: `${publicUrl}/mcp`, sub: `user_zd_${i}` }, { expiresInSeconds: 900 }),
      ),
    );
    const tally = () => ({ sent: 0, answered: 0, failed: 0, failures: [] as string[] });
    const mcp = tally();
    const signIns = tally();
    // The Login URI allows 120 visits per address in 10 minutes, and every scripted browser comes
    // from 127.0.0.1: each lane signs in every 300 ms at most, so that sign-ins run until the end.
    const MAX_SIGN_INS = 100;
    const signInSpans: Array<[number, number]> = [];
    const sigterms: number[] = [];
    let running = true;
    const startedAt = Date.now();

    const mcpLoop = async (i: number) => {
      while (running) {
        const id = ++mcp.sent;
        try {
          const res = await fetch(`${publicUrl}/mcp`, {
            method: 'POST',
            headers: { ...MCP_HEADERS, Authorization: `Bearer ${tokens[i]}` },
            body: JSON.stringify(toolCall('whoami', {}, id)),
            signal: AbortSignal.timeout(20_000),
          });
          const text = await res.text();
          if (res.status === 200 && text.includes(`user_zd_${i}`)) mcp.answered++;
          else {
            mcp.failed++;
            mcp.failures.push(`${res.status} ${text.slice(0, 200)}`);
          }
        } catch (err) {
          mcp.failed++;
          mcp.failures.push(String((err as Error).cause ?? err));
        }
      }
    };
    const signInLoop = async (who: Person) => {
      while (running && signIns.sent < MAX_SIGN_INS) {
        signIns.sent++;
        const b = new Browser();
        const began = Date.now();
        const pace = sleep(300);
        try {
          const form = await b.go(clientAuthorize(emulator.url, { resource: `${publicUrl}/mcp` }).url);
          if (form.status !== 200 || !form.html.includes('action="/auth/login/local"'))
            throw new Error(`the Login URI answered ${form.status}`);
          const end = await b.submit(form, '/auth/login/local', credentials(who), isClientRedirect);
          if (!isClientRedirect(end.url) || !new URL(end.url).searchParams.get('code'))
            throw new Error(`the sign-in ended on ${end.url} (${end.status})`);
          signIns.answered++;
          signInSpans.push([began, Date.now()]);
        } catch (err) {
          signIns.failed++;
          signIns.failures.push(String((err as Error).cause ?? (err as Error).message));
        }
        await pace;
      }
    };

    const restarts: Array<Record<string, unknown>> = [];
    const restart = async (name: Name) => {
      const old = servers[name];
      const t0 = Date.now();
      sigterms.push(t0);
      const exit = await old.stop('SIGTERM', 20_000);
      const stoppedMs = Date.now() - t0;
      const drained = old.lines
        .filter((l) => l.includes('"context":"Shutdown"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const since = Date.now() / 1000;
      await startInstance(name);
      await waitUntilServing(name, since);
      restarts.push({
        instance: name,
        exit,
        stoppedMs,
        requestsInFlightAtSigterm: drained.find((d) => 'inFlight' in d)?.inFlight,
        signInsUnderWay: 0, // counted below, once every sign-in has ended
        answeredWhileDraining: drained.find((d) => 'answered' in d)?.answered,
        backInRotationAfterMs: Date.now() - t0,
      });
    };
    const steps = async () => {
      await sleep(2_000);
      await restart('A');
      await sleep(1_000);
      await restart('B');
      await sleep(1_500);
      running = false;
    };
    const completionsBefore = emulator.completionCalls().length;
    const logBefore = nginx.accessLog().length;
    await Promise.all([steps(), ...tokens.map((_, i) => mcpLoop(i)), ...lanes.map((who) => signInLoop(who))]);
    const seconds = (Date.now() - startedAt) / 1000;

    // The sign-ins that were under way (begun, not finished) at each SIGTERM.
    restarts.forEach((r, i) => {
      r.signInsUnderWay = signInSpans.filter(([from, to]) => from <= sigterms[i] && to >= sigterms[i]).length;
    });
    await sleep(300); // nginx writes each log line just after its answer
    const served = nginx.accessLog().slice(logBefore);
    const completions = emulator.completionCalls().slice(completionsBefore);
    const report = {
      seconds,
      mcp: { ...mcp, failures: mcp.failures.slice(0, 20) },
      signIns: { ...signIns, failures: signIns.failures.slice(0, 20) },
      restarts,
      nginx: {
        requests: served.length,
        byInstance: {
          A: served.filter((e) => answeredBy(e) === 'A').length,
          B: served.filter((e) => answeredBy(e) === 'B').length,
        },
        // A refused connection (a stopped instance) sent on to the other one: the request was never lost.
        sentOnToTheOtherInstance: served.filter((e) => e.upstream.includes(',')).length,
        status5xx: served.filter((e) => e.status >= 500).length,
      },
      completions: {
        accepted: completions.filter((c) => c.status === 200).length,
        refused: completions.filter((c) => c.status !== 200).length,
      },
    };
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(ARTIFACT, `${JSON.stringify(report, null, 2)}\n`);

    expect(report.mcp.failures).toEqual([]);
    expect(report.signIns.failures).toEqual([]);
    expect(mcp.answered).toBe(mcp.sent);
    expect(signIns.answered).toBe(signIns.sent);
    expect(mcp.sent).toBeGreaterThan(100);
    expect(signIns.sent).toBeGreaterThan(4);
    expect(report.nginx.status5xx).toBe(0);
    // Each sign-in completed exactly once at AuthKit.
    expect(report.completions).toEqual({ accepted: signIns.answered, refused: 0 });
    // Both stops were graceful (the bridge ends by the signal after closing everything), within the limit.
    for (const r of restarts) {
      expect(r.exit).toEqual({ code: null, signal: 'SIGTERM' });
      expect(r.stoppedMs).toBeLessThan(10_000);
    }
  });
});
