/**
 * Two bridge processes (`node dist/src/main.js`) on different ports, one PostgreSQL, one public
 * origin in front (a round-robin balancer without sticky sessions). The sign-in starts on one
 * instance and finishes on the other; MCP calls alternate; nothing breaks, nothing completes twice.
 * The embedded PGlite database belongs to one process, so this suite needs TEST_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { LEGACY_USERS, startLegacyApp, type LegacyApp } from '../fixtures/legacy-app';
import { startBalancer, type Backend, type Balancer } from '../helpers/balancer';
import { emulatorEnv } from '../helpers/config';
import {
  REPO_ROOT,
  childEnv,
  ensureBuilt,
  spawnCaptured,
  startBuiltServer,
  type BuiltServer,
} from '../helpers/built-server';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { Browser } from '../login/browser';
import { authorizeUrl, pkce } from '../emulator/helpers';
import { BrowserOAuthProvider, connectClient, whoami, type Exchange, type McpClient } from './mcp-flow';
import { describeUnless, NEEDS_POSTGRES } from '../helpers/skip';

const [alice, bob] = LEGACY_USERS;
const CLIENT = { clientId: 'client_two_instances', redirectUri: 'http://127.0.0.1:33531/callback' };
const describePg = describeUnless(NEEDS_POSTGRES, __filename);

describePg('two bridge processes on one PostgreSQL behind one origin', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let legacy: LegacyApp;
  let lb: Balancer & { backends: Backend[] };
  let a: BuiltServer;
  let b: BuiltServer;
  const pathOf = (path: string) => new URL(path, 'http://x').pathname;

  beforeAll(async () => {
    const built = ensureBuilt();
    db = await createTestDatabase({ autoMigrate: false });
    if (db.database.kind !== 'postgres') throw new Error('PostgreSQL expected');
    const databaseUrl = db.database.url;
    lb = await startBalancer();
    emulator = await startEmulator({
      loginUri: `${lb.url}/auth/login`,
      enableTestControl: true,
      clients: [{ clientId: CLIENT.clientId, redirectUris: [CLIENT.redirectUri] }],
    });
    legacy = await startLegacyApp();
    await built;

    // As an operator deploys: migrate once, then start the instances with the same settings.
    const migrate = spawnCaptured(process.execPath, [join(REPO_ROOT, 'dist/src/cli/db-migrate.js')], {
      env: childEnv({ DATABASE_URL: databaseUrl }),
    });
    const migrated = await migrate.exited;
    if (migrated.code !== 0) throw new Error(`db-migrate failed:\n${migrate.text}`);

    const env = {
      NODE_ENV: 'development',
      PUBLIC_URL: lb.url,
      DATABASE_URL: databaseUrl,
      ...emulatorEnv(emulator),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      LEGACY_AUTH_STRATEGY: 'session-introspection',
      LEGACY_SESSION_URL: legacy.sessionUrl,
      LEGACY_LOGIN_URL: legacy.loginUrl,
      LEGACY_LOGOUT_URL: legacy.logoutUrl,
      LOG_LEVEL: 'info',
    };
    [a, b] = await Promise.all([startBuiltServer({ env }), startBuiltServer({ env })]);
    lb.backends.push({ name: 'A', url: a.url }, { name: 'B', url: b.url });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await lb?.close();
    await emulator?.close();
    await legacy?.close();
    await db?.dispose();
  });

  it('signs in with the Login URI on A and the legacy return and completion on B; MCP calls alternate', async () => {
    // The Login URI goes to A, the return from the legacy login to B, the rest round robin.
    let rr = 0;
    lb.route = (req, [A, B]) => {
      const path = pathOf(req.url ?? '/');
      if (path === '/auth/login') return A;
      if (path.startsWith('/auth/login/')) return B;
      return rr++ % 2 ? B : A;
    };
    const provider = new BrowserOAuthProvider({
      name: 'two-instance client',
      redirectUrl: 'http://127.0.0.1:33530/callback',
      who: alice,
      addOfflineAccess: true,
    });
    const log: Exchange[] = [];
    const client: McpClient = await connectClient('v1', `${lb.url}/mcp`, provider, log);
    try {
      const login = lb.served.filter((s) => pathOf(s.path).startsWith('/auth/login'));
      expect(login.map((s) => `${pathOf(s.path)} ${s.backend} ${s.status}`)).toEqual([
        '/auth/login A 200', // "An AI application is asking to connect"
        '/auth/login/connect B 303', // Continue (on B): to the legacy login
        '/auth/login/resume B 302', // back from it: completion on B, then to AuthKit
      ]);
      const completions = emulator.completionCalls();
      expect(completions).toEqual([expect.objectContaining({ userId: 'u-alice', status: 200 })]);

      const before = lb.served.length;
      for (let i = 0; i < 6; i++) expect(await whoami(client)).toMatchObject({ legacy_user_id: 'u-alice' });
      // (the client's optional GET for a server stream gets 405 from the stateless endpoint)
      const mcp = lb.served.slice(before).filter((s) => s.method === 'POST' && s.path === '/mcp');
      expect(mcp).toHaveLength(6);
      expect(new Set(mcp.map((s) => s.backend))).toEqual(new Set(['A', 'B']));
      expect(mcp.every((s) => s.status === 200)).toBe(true);
      // Only the very first request was refused.
      expect(log.filter((e) => e.method === 'POST' && e.status >= 400).map((e) => e.status)).toEqual([401]);
    } finally {
      await client.close();
    }
  });

  it('completes once when the same return reaches both instances at the same moment', async () => {
    lb.route = (_req, [A]) => A;
    const browser = new Browser();
    const authorize = authorizeUrl(emulator, {
      client_id: CLIENT.clientId,
      redirect_uri: CLIENT.redirectUri,
      response_type: 'code',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      state: 'race',
    });
    const ask = await browser.go(authorize);
    const legacyLogin = await browser.submit(ask, '/auth/login/connect', { action: 'continue' });
    expect(legacyLogin.url.startsWith(legacy.loginUrl)).toBe(true);
    // The legacy login answers with a redirect to the resume URL; deliver it to A and B at once.
    const signedIn = await browser.request(legacy.loginUrl, {
      method: 'POST',
      form: {
        return_to: new URL(legacyLogin.url).searchParams.get('return_to')!,
        email: bob.email,
        password: bob.password,
      },
    });
    const resume = new URL(signedIn.headers.get('location')!);
    expect(resume.pathname).toBe('/auth/login/resume');
    const path = `${resume.pathname}${resume.search}`;
    const before = emulator.completionCalls().length;
    const answers = await Promise.all([a.url, b.url].map((base) => browser.request(`${base}${path}`)));
    const statuses = answers.map((r) => r.status).sort();
    const completions = emulator.completionCalls().slice(before);
    expect(completions).toEqual([expect.objectContaining({ userId: '4242', status: 200 })]);
    // One instance sends the browser on to AuthKit; the other says the sign-in is being completed
    // (or already was) instead of completing it again.
    expect(statuses[0]).toBe(302);
    expect([302, 409]).toContain(statuses[1]);
  });

  it('logged no errors and both instances are still ready', async () => {
    for (const server of [a, b]) {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const errors = server.lines.filter((l) => /"level":(50|60)/.test(l));
      expect(errors).toEqual([]);
    }
  });
});
