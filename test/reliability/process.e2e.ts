/**
 * The compiled server as operators run it (`node dist/src/main.js`, configured by environment),
 * in its own process: killed with SIGKILL in the middle of a login and started again on the same
 * database; and a full run whose every log line (stdout and stderr) is searched for secrets.
 */
import { join } from 'node:path';
import type { RunningEmulator } from '../../emulator';
import { startLegacyApp, type LegacyApp } from '../fixtures/legacy-app';
import {
  childEnv,
  ensureBuilt,
  REPO_ROOT,
  spawnCaptured,
  startBuiltServer,
  type BuiltServer,
} from '../helpers/built-server';
import { Browser, formFields, pageText } from '../login/browser';
import { CLIENT_ID, CLIENT_REDIRECT } from '../login/harness';
import {
  authorize,
  bridgeEnv,
  durableDatabase,
  isClientRedirect,
  lastExternalAuthId,
  type DurableDatabase,
} from './servers';

jest.setTimeout(180_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the server killed (SIGKILL) during a login, then started again', () => {
  let legacy: LegacyApp;
  let emulator: RunningEmulator;
  let env: Record<string, string>;
  let url: string;
  let db: DurableDatabase;
  let server: BuiltServer | undefined;
  const alice = { email: 'alice@example.com', password: 'alice-pw' }; // a user of the fixture legacy app

  beforeAll(async () => {
    legacy = await startLegacyApp();
    db = await durableDatabase();
    ({ env, url, emulator } = await bridgeEnv({
      ...db.env,
      LOG_LEVEL: 'warn',
      LEGACY_AUTH_STRATEGY: 'session-introspection',
      LEGACY_SESSION_URL: legacy.sessionUrl,
      LEGACY_LOGIN_URL: legacy.loginUrl,
      LEGACY_LOGOUT_URL: legacy.logoutUrl,
    }));
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await emulator.close();
    await legacy.close();
    await db.dispose();
  });

  const kill = async () => {
    expect(await server!.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    server = undefined;
  };

  it('killed between the legacy login and the completion: the same browser resumes where it was', async () => {
    server = await startBuiltServer({ env });
    const b = new Browser();
    const ask = await b.go(authorize(emulator, url).url); // "An AI application is asking to connect"
    const legacyForm = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
    expect(legacyForm.url.startsWith(legacy.loginUrl)).toBe(true);
    await kill();
    // The person signs in at the legacy app, which sends them back to a bridge that is down …
    const back = await b.request(new URL('/login', legacy.url).toString(), {
      method: 'POST',
      form: { ...formFields(legacyForm.html, '/login'), email: alice.email, password: alice.password },
    });
    const resume = back.headers.get('location')!;
    expect(resume).toMatch(/\/auth\/login\/resume\?tx=/);
    await expect(fetch(resume)).rejects.toThrow();
    // … and comes back up: the same browser, the same link, finishes the sign-in.
    server = await startBuiltServer({ env });
    const end = await b.go(resume, {}, isClientRedirect);
    expect(isClientRedirect(end.url)).toBe(true);
    const ext = lastExternalAuthId(b);
    expect(
      emulator.completionCalls().filter((c) => c.externalAuthId === ext && c.status === 200),
    ).toHaveLength(1);
  });

  it('killed while the completion call is in flight: a clean page, no second completion, and a fresh start works', async () => {
    server ??= await startBuiltServer({ env });
    const b = new Browser();
    // signed in at the legacy app since before this flow: "Continue as …"
    const form = await b.go(`${legacy.loginUrl}?return_to=${encodeURIComponent('http://127.0.0.1:9/')}`);
    await b.request(new URL('/login', legacy.url).toString(), {
      method: 'POST',
      form: { ...formFields(form.html, '/login'), email: alice.email, password: alice.password },
    });
    const confirm = await b.go(authorize(emulator, url).url);
    expect(confirm.html).toContain('Continue with this account?');
    const ext = lastExternalAuthId(b);
    emulator.injectCompletionFault({ delayMs: 1500, times: 1 }); // AuthKit slow; it completes after the kill
    const inflight = b
      .submit(confirm, '/auth/login/confirm', { action: 'continue' }, isClientRedirect)
      .catch((e: Error) => e);
    for (let i = 0; i < 100 && !emulator.completionCalls().some((c) => c.externalAuthId === ext); i++)
      await sleep(20);
    await kill();
    expect(String(await inflight)).toMatch(/fetch failed/); // the connection died with the process
    server = await startBuiltServer({ env });
    await sleep(1600); // AuthKit finished the call nobody is waiting for
    // Back and "Continue" again: the claim of the dead process is honoured, the page says what happens.
    const again = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, isClientRedirect);
    expect(again.status).toBe(409);
    expect(pageText(again.html)).toContain('Your sign-in is being finished');
    // Starting over from the AI client works at once.
    const fresh = await b.go(authorize(emulator, url).url);
    const end = await b.submit(fresh, '/auth/login/confirm', { action: 'continue' }, isClientRedirect);
    expect(isClientRedirect(end.url)).toBe(true);
    const landed = (id: string) =>
      emulator.completionCalls().filter((c) => c.externalAuthId === id && c.status === 200);
    expect(landed(ext)).toHaveLength(1);
    expect(landed(lastExternalAuthId(b))).toHaveLength(1);
  });
});

describe('no secret in any log line of a full run', () => {
  it('keeps tokens, keys, passwords, cookies and external_auth_ids out of stdout and stderr', async () => {
    await ensureBuilt();
    const db = await durableDatabase();
    const { env, url, emulator } = await bridgeEnv({
      ...db.env,
      LOG_LEVEL: 'trace',
      LEGACY_AUTH_STRATEGY: 'local',
    });
    let server: BuiltServer | undefined;
    try {
      // a local user, added with the CLI before the server opens the database
      const add = spawnCaptured(
        process.execPath,
        [
          join(REPO_ROOT, 'dist', 'src', 'cli', 'users-add.js'),
          '--email',
          'alice@example.com',
          '--generate-password',
        ],
        { env: childEnv({ NODE_ENV: 'test', ...db.env, DATABASE_AUTO_MIGRATE: 'true' }) },
      );
      expect((await add.exited).code).toBe(0);
      const password = /Password: (\S+)/.exec(add.text)![1];
      server = await startBuiltServer({ env });
      const secrets: Record<string, string> = {
        'API key': env.WORKOS_API_KEY,
        'session secret': env.SESSION_SECRET,
        password,
        'wrong password': 'not-alices-password-42',
      };

      // A wrong password, a bad Login URI, then the whole flow with offline_access.
      const b = new Browser();
      const auth = authorize(emulator, url, 'openid profile email offline_access');
      const form = await b.go(auth.url);
      await b.submit(form, '/auth/login/local', {
        email: 'alice@example.com',
        password: secrets['wrong password'],
      });
      await b.go(`${url}/auth/login?external_auth_id=${'x'.repeat(300)}`);
      const end = await b.submit(
        form,
        '/auth/login/local',
        { email: 'alice@example.com', password },
        isClientRedirect,
      );
      expect(isClientRedirect(end.url)).toBe(true);
      const code = new URL(end.url).searchParams.get('code')!;
      secrets['authorization code'] = code;
      secrets['PKCE verifier'] = auth.verifier;
      secrets.external_auth_id = lastExternalAuthId(b);
      const cookies = b.cookiesFor(`${url}/auth/login`);
      expect(cookies.cbridge_session).toMatch(/^s%3A[A-Za-z0-9_-]{43}\./);
      secrets['session cookie'] = decodeURIComponent(cookies.cbridge_session);
      secrets['session token'] = decodeURIComponent(cookies.cbridge_session).slice(2).split('.')[0];

      const token = async (params: Record<string, string>) => {
        const res = await fetch(`${emulator.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: CLIENT_ID, ...params }),
        });
        return (await res.json()) as { access_token: string; refresh_token: string };
      };
      const first = await token({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CLIENT_REDIRECT,
        code_verifier: auth.verifier,
        resource: `${url}/mcp`,
      });
      const second = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      const mcp = (bearer: string) =>
        fetch(`${url}/mcp`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${bearer}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'whoami', arguments: {} },
          }),
        });
      expect((await mcp(first.access_token)).status).toBe(200);
      expect((await mcp(`${first.access_token}x`)).status).toBe(401);
      expect((await mcp(second.access_token)).status).toBe(200);
      Object.assign(secrets, {
        'access token': first.access_token,
        'access token signature': first.access_token.split('.')[2],
        'refreshed access token': second.access_token,
        'refresh token': first.refresh_token,
        'rotated refresh token': second.refresh_token,
      });

      await server.stop('SIGTERM');
      const text = server.text;
      // the run was logged (so the search below is not vacuous) …
      expect(text).toContain('login completed');
      expect(text).toMatch(/"route":"\/mcp","status":200/);
      expect(text).toMatch(/"status":401/);
      // … and no secret is in it
      const found = Object.entries(secrets).filter(([, value]) => value && text.includes(value));
      expect(found.map(([name]) => name)).toEqual([]);
    } finally {
      await server?.stop('SIGKILL');
      await emulator.close();
      await db.dispose();
    }
  });
});
