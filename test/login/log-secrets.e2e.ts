/**
 * Nothing that can continue or complete a sign-in reaches the log, at any level: whole sign-ins
 * (each strategy's pages, redirects and forms, a wrong password, a retry of a finished flow), the
 * code exchanged for tokens, MCP calls with the access token, all at LOG_LEVEL=trace, with every
 * line the bridge writes captured.
 */
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { LEGACY_USERS } from '../fixtures/legacy-app';
import { LogCapture } from '../helpers/app';
import { MCP_HEADERS, toolCall } from '../mcp/helpers';
import { Browser, pageText, type Page } from './browser';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  clientAuthorize,
  externalAuthIdOf,
  startHarness,
  type Harness,
} from './harness';

const [alice] = LEGACY_USERS;
const carol = { email: 'carol@example.com', password: 'carol-password-1' };

/** Every value seen during one sign-in that could continue or complete it, by name. */
type Secrets = Record<string, string>;

/**
 * One MCP client's whole authorization, as a person and the client do it; collects every secret
 * that passes by (ids, cookies, CSRF tokens, the completion's ticket, the code, tokens).
 */
async function signInAndCall(h: Harness, who: { email: string; password: string }): Promise<Secrets> {
  const secrets: Secrets = {};
  const b = new Browser();
  const resource = `${h.url}/mcp`;
  const auth = clientAuthorize(h.emulator.url, { resource, scope: 'openid profile email offline_access' });
  secrets.verifier = auth.verifier;
  const collect = (page: Page) => {
    for (const [name, value] of Object.entries(b.cookiesFor(`${h.url}/auth/login`))) {
      secrets[`cookie ${name}`] = value;
      const tx = /^cbridge_tx_(.+)$/.exec(name)?.[1];
      if (tx) secrets.tx = tx;
    }
    for (const [name, value] of Object.entries(b.cookiesFor(h.legacy?.url ?? h.url)))
      secrets[`cookie ${name}`] = value;
    for (const m of page.html.matchAll(/name="(tx|csrf)" value="([^"]+)"/g)) secrets[m[1]] = m[2];
  };
  let page = await b.go(auth.url, {}, h.isClientRedirect);
  secrets.external_auth_id = externalAuthIdOf(b.history.find((u) => u.includes('external_auth_id='))!);
  for (let steps = 0; page.status !== 0; steps++) {
    if (steps > 5) throw new Error(`no way through ${page.url}: ${pageText(page.html).slice(0, 300)}`);
    collect(page);
    if (page.html.includes('action="/auth/login/local"')) {
      if (steps === 0) {
        const wrong = await b.submit(page, '/auth/login/local', {
          email: who.email,
          password: 'wrong-guess',
        });
        expect(wrong.status).toBe(401);
      }
      page = await b.submit(page, '/auth/login/local', who, h.isClientRedirect);
    } else if (page.html.includes('action="/auth/login/connect"'))
      page = await b.submit(page, '/auth/login/connect', { action: 'continue' }, h.isClientRedirect);
    else if (page.html.includes('action="/auth/login/confirm"'))
      page = await b.submit(page, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
    else if (page.html.includes('action="/login"'))
      page = await b.submit(page, '/login', who, h.isClientRedirect);
    else
      throw new Error(`unexpected page ${page.url} (${page.status}): ${pageText(page.html).slice(0, 300)}`);
  }
  collect(page);
  const ticketUrl = b.history.find((u) => u.includes('ticket='));
  secrets.ticket = new URL(ticketUrl!).searchParams.get('ticket')!;
  const back = new URL(page.url);
  secrets.code = back.searchParams.get('code')!;
  secrets.state = back.searchParams.get('state')!;

  // A replay of the finished flow's Login URI, and a stale resume: both refused, both logged.
  const replay = await b.request(b.history.find((u) => u.includes('/auth/login?external_auth_id='))!);
  expect(replay.status).toBe(409);
  expect((await b.request(`${h.url}/auth/login/resume?tx=${secrets.tx}`)).status).toBeGreaterThanOrEqual(400);

  const token = await fetch(`${h.emulator.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: secrets.code,
      redirect_uri: CLIENT_REDIRECT,
      client_id: CLIENT_ID,
      code_verifier: auth.verifier,
      resource,
    }),
  });
  const tokens = (await token.json()) as { access_token: string; refresh_token?: string; id_token?: string };
  secrets.access_token = tokens.access_token;
  if (tokens.refresh_token) secrets.refresh_token = tokens.refresh_token;
  if (tokens.id_token) secrets.id_token = tokens.id_token;
  for (const body of [toolCall('whoami'), { jsonrpc: '2.0', id: 2, method: 'tools/list' }]) {
    const call = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${tokens.access_token}` },
      body: JSON.stringify(body),
    });
    expect(call.status).toBe(200);
  }
  // A token in the query string (never accepted) and a tampered one: refused, and still not logged.
  await fetch(`${h.url}/mcp?access_token=${tokens.access_token}`, { method: 'POST', headers: MCP_HEADERS });
  await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, Authorization: `Bearer ${tokens.access_token}x` },
    body: '{}',
  });
  return secrets;
}

/** The named secrets that appear anywhere in `text`. */
const leaked = (text: string, secrets: Secrets) =>
  Object.entries(secrets)
    .filter(([, value]) => value && text.includes(value))
    .map(([name]) => name);

/**
 * One capture for every bridge of this file: nestjs-pino keeps one pino-http instance per
 * process, so a later app in the same process writes through the first app's logger and stream.
 */
const logs = new LogCapture();

describe.each(['local', 'session-introspection', 'jwt-cookie'] as const)(
  'logs of whole sign-ins at LOG_LEVEL=trace, %s strategy',
  (strategy) => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({ strategy, logs, env: { LOG_LEVEL: 'trace' } });
      if (strategy === 'local') await h.app.get(LocalUsersService).create(carol);
    });
    afterAll(() => h.close());

    it('hold no external_auth_id, transaction id, cookie, CSRF token, ticket, code or token', async () => {
      const from = logs.lines.length;
      const secrets = await signInAndCall(h, strategy === 'local' ? carol : alice);
      expect(Object.keys(secrets)).toEqual(
        expect.arrayContaining(['external_auth_id', 'tx', 'csrf', 'ticket', 'code', 'access_token']),
      );
      // The log is not empty: each step of the flow and the MCP calls have their request line.
      const lines = logs.lines.slice(from);
      const text = lines.join('\n');
      expect(text).toContain('"route":"/auth/login","status":200');
      expect(text).toMatch(/"route":"\/auth\/login\/(local|resume)","status":30[23]/);
      expect(text).toContain('"route":"/mcp","status":200');
      expect(text).toMatch(/"status":30[23],"ms":\d+,"location":"http:[^"]*\?[a-z_]+=\[Redacted\]/);
      expect(text).toContain('login completed');
      expect(leaked(logs.text, secrets)).toEqual([]);
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    });
  },
);
