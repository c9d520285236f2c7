/**
 * The legacy app stays the source of truth after sign-in: with LEGACY_USER_URL set, callers of
 * /mcp are rechecked at most every LEGACY_USER_RECHECK_SECONDS (10 s here) in the background. A
 * role change reaches `whoami` with no new sign-in; a user the legacy app reports inactive loses
 * every grant (current and refreshed tokens refused); while the user URL does not answer, calls
 * keep working on the last answer, /readyz says "degraded" and the metrics count the failures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { BrowserOAuthProvider, connectClient, whoami, type McpClient } from '../e2e/mcp-flow';
import { whoamiCall } from '../helpers/whoami-call';
import { scrape, startHarness, type Harness } from '../login/harness';

const RECHECK_SECONDS = 10;
const USER_TOKEN = randomBytes(32).toString('base64url');

/** The legacy app's user endpoint, as the test scripts it: one answer (or failure) per user id. */
type Scripted = { status: number; body?: unknown } | 'hang';
const answers = new Map<string, Scripted>();
const asked: string[] = [];
let legacy: Server;
let legacyUrl: string;

let h: Harness;
let mcpUrl: string;
const clients: McpClient[] = [];

async function signIn(email: string, password: string) {
  const provider = new BrowserOAuthProvider({
    name: `Recheck client of ${email}`,
    redirectUrl: `http://127.0.0.1:${33800 + clients.length}/callback`,
    who: { email, password },
  });
  const client = await connectClient('v2', mcpUrl, provider);
  clients.push(client);
  return { client, provider };
}

const call = async (token: string): Promise<number> => (await whoamiCall(mcpUrl, token)).status;

/** Calls `probe` every 250 ms until it answers true; resolves the seconds it took (throws after `limit`). */
async function within(limitSeconds: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return (Date.now() - started) / 1000;
    if (Date.now() - started > limitSeconds * 1000) throw new Error(`not within ${limitSeconds} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let ada: { id: string; client: McpClient; token: () => string; refresh: () => Promise<string> };
let bea: { id: string; client: McpClient };

beforeAll(async () => {
  legacy = createServer((req, res) => {
    const id = decodeURIComponent((req.url ?? '').replace(/^\/api\/users\//, ''));
    asked.push(id);
    if (req.headers.authorization !== `Bearer ${USER_TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    const scripted = answers.get(id) ?? { status: 404 };
    if (scripted === 'hang') return; // never answers: the bridge's time limit applies
    res
      .writeHead(scripted.status, { 'Content-Type': 'application/json' })
      .end(JSON.stringify(scripted.body ?? {}));
  });
  await new Promise<void>((r) => legacy.listen(0, '127.0.0.1', r));
  legacyUrl = `http://127.0.0.1:${(legacy.address() as AddressInfo).port}/api/users/{id}`;
  h = await startHarness({
    env: {
      LEGACY_USER_URL: legacyUrl,
      LEGACY_USER_TOKEN: USER_TOKEN,
      LEGACY_USER_RECHECK_SECONDS: String(RECHECK_SECONDS),
      LEGACY_TIMEOUT_MS: '500',
      GRANT_LAST_USED_FLUSH_SECONDS: '1',
    },
    emulator: { accessTokenTtlSeconds: 300 },
  });
  mcpUrl = `${h.url}/mcp`;
  const users = h.app.get(LocalUsersService);
  const a = await users.create({ email: 'ada@recheck.example', password: 'ada-password-12' });
  const b = await users.create({ email: 'bea@recheck.example', password: 'bea-password-12' });
  answers.set(a.id, {
    status: 200,
    body: { id: a.id, email: 'ada@recheck.example', active: true, roles: [] },
  });
  answers.set(b.id, { status: 200, body: { id: b.id, email: 'bea@recheck.example', roles: ['reader'] } });
  const signedA = await signIn('ada@recheck.example', 'ada-password-12');
  const signedB = await signIn('bea@recheck.example', 'bea-password-12');
  ada = {
    id: a.id,
    client: signedA.client,
    token: () => String(signedA.provider.savedTokens!.access_token),
    refresh: async () => {
      const res = await fetch(`${h.emulator.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: String(signedA.provider.savedTokens!.refresh_token),
          client_id: String((signedA.provider.clientInfo as { client_id: string }).client_id),
          resource: mcpUrl,
        }),
      });
      return String(((await res.json()) as { access_token: string }).access_token);
    },
  };
  bea = { id: b.id, client: signedB.client };
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await h?.close();
  await new Promise((r) => legacy?.close(r));
});

it('a sign-in counts as a check: nobody is asked again before the interval', async () => {
  expect((await whoami(ada.client)).roles).toEqual([]);
  expect(asked).toEqual([]);
});

it('a role change in the legacy app reaches whoami within the recheck interval, with no new sign-in', async () => {
  answers.set(ada.id, {
    status: 200,
    body: {
      id: ada.id,
      email: 'ada@recheck.example',
      roles: ['admin'],
      tenants: [{ id: 'acme', name: 'Acme' }],
    },
  });
  const took = await within(RECHECK_SECONDS + 5, async () => {
    const me = await whoami(ada.client);
    return JSON.stringify(me.roles) === '["admin"]';
  });
  expect(took).toBeLessThanOrEqual(RECHECK_SECONDS + 5);
  expect(await whoami(ada.client)).toMatchObject({ roles: ['admin'], tenant: { id: 'acme', name: 'Acme' } });
  const link = await h.prisma.userLink.findUniqueOrThrow({ where: { legacyUserId: ada.id } });
  expect(link.roles).toEqual(['admin']);
  // Asked once for the interval, however many calls were made.
  expect(asked.filter((id) => id === ada.id).length).toBe(1);
}, 30_000);

it('while the user URL does not answer, calls keep working on the last answer; /readyz says degraded; failures are counted', async () => {
  answers.set(bea.id, 'hang');
  await within(RECHECK_SECONDS + 5, async () => {
    const me = await whoami(bea.client);
    expect(me.roles).toEqual([]);
    const unanswered = (await scrape(h.url, 'legacy_user_checks_total')).find(
      (s) => s.labels.outcome === 'unanswered',
    );
    return (unanswered?.value ?? 0) >= 1;
  });
  expect((await whoami(bea.client)).legacy_user_id).toBe(bea.id);
  const ready = await fetch(`${h.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(((await ready.json()) as { checks: Record<string, string> }).checks.legacy_user_url).toBe(
    'degraded',
  );
}, 30_000);

it('a user the legacy app reports inactive loses every grant: the current and a refreshed token are refused', async () => {
  answers.set(ada.id, { status: 200, body: { id: ada.id, email: 'ada@recheck.example', active: false } });
  const before = ada.token();
  const took = await within(RECHECK_SECONDS + 5, async () => (await call(before)) === 401);
  expect(took).toBeLessThanOrEqual(RECHECK_SECONDS + 5);
  const refreshed = await ada.refresh();
  expect(await call(refreshed)).toBe(401);
  const grants = await h.prisma.grant.findMany({ where: { legacyUserId: ada.id } });
  expect(grants.every((g) => g.revokedAt !== null && g.revokedBy === 'legacy-recheck')).toBe(true);
  const audit = await h.prisma.accessAudit.findFirst({
    where: { actor: 'legacy-recheck', legacyUserId: ada.id },
  });
  expect(audit).toMatchObject({ action: 'revoke_user', count: 1 });
  const gone = (await scrape(h.url, 'legacy_user_checks_total')).find((s) => s.labels.outcome === 'gone');
  expect(gone?.value).toBe(1);
}, 30_000);
