/**
 * Access lifecycle, end to end: people sign in through the bridge with the official v2 MCP SDK
 * client (refresh tokens included), then their access is ended through the admin API and through
 * `users:add -- --disable`; the current token AND a token refreshed afterwards are refused within
 * 5 s while another user's keep working, and a new sign-in works again. On PostgreSQL, a second
 * instance on the same database refuses within 5 s too.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { createApp } from '../../src/bootstrap';
import { GrantStore } from '../../src/access/grant.store';
import { runUsersAdd } from '../../src/cli/users-add';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { BrowserOAuthProvider, connectClient, whoami, type McpClient } from '../e2e/mcp-flow';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { describeUnless, NEEDS_POSTGRES } from '../helpers/skip';
import { freePort } from '../helpers/ports';
import { whoamiCall } from '../helpers/whoami-call';
import { scrape, startHarness, type Harness } from '../login/harness';

const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

interface Person {
  email: string;
  password: string;
  id: string;
  provider: BrowserOAuthProvider;
  client: McpClient;
}

let h: Harness;
let mcpUrl: string;
let users: LocalUsersService;
let port = 0;
let db: TestDatabase;

/** One MCP request with a bearer token: the status and the challenge. */
const call = (token: string, base = h.url) => whoamiCall(`${base}/mcp`, token);

/** Polls until `token` is refused as revoked; resolves how long that took (ms). */
async function refusedWithin(token: string, limitMs: number, base = h.url): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { status, challenge } = await call(token, base);
    if (status === 401) {
      expect(challenge).toMatch(/error="invalid_token"/);
      expect(challenge).toMatch(/error_description="[^"]*revoked/);
      expect(challenge).toMatch(/resource_metadata="/);
      return Date.now() - started;
    }
    expect(status).toBe(200);
    if (Date.now() - started > limitMs) throw new Error(`still accepted after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The refresh grant at AuthKit (the emulator), as the client would send it. */
async function refreshAtAuthKit(p: Person): Promise<{ status: number; accessToken?: string }> {
  const res = await fetch(`${h.emulator.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: String(p.provider.savedTokens!.refresh_token),
      client_id: String((p.provider.clientInfo as { client_id: string }).client_id),
      resource: mcpUrl,
    }),
  });
  const body = (await res.json()) as { access_token?: string; refresh_token?: string };
  if (res.status === 200) p.provider.saveTokens({ ...p.provider.savedTokens, ...body, token_type: 'Bearer' });
  return { status: res.status, accessToken: body.access_token };
}

async function signIn(email: string, password: string, id: string): Promise<Person> {
  const provider = new BrowserOAuthProvider({
    name: `Lifecycle client of ${email}`,
    redirectUrl: `http://127.0.0.1:${++port + 33700}/callback`,
    who: { email, password },
  });
  const client = await connectClient('v2', mcpUrl, provider);
  return { email, password, id, provider, client };
}

const token = (p: Person) => String(p.provider.savedTokens!.access_token);

/** Polls `read` until it answers `want` (or 10 s pass); resolves the last answer. */
async function eventually<T>(read: () => Promise<T>, want: T): Promise<T> {
  const until = Date.now() + 10_000;
  let value = await read();
  while (value !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const samples = await scrape(h.url, name);
  const match = samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return match?.value ?? 0;
}

let alice: Person;
let bob: Person;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({ env: { ADMIN_API_TOKEN: ADMIN_TOKEN, GRANT_LAST_USED_FLUSH_SECONDS: '1' }, db });
  mcpUrl = `${h.url}/mcp`;
  users = h.app.get(LocalUsersService);
  const a = await users.create({ email: 'alice@lifecycle.example', password: 'alice-password-1' });
  const b = await users.create({ email: 'bob@lifecycle.example', password: 'bob-password-12' });
  alice = await signIn(a.email, 'alice-password-1', a.id);
  bob = await signIn(b.email, 'bob-password-12', b.id);
}, 60_000);
afterAll(async () => {
  await alice?.client.close();
  await bob?.client.close();
  await h?.close();
  await db?.dispose();
});

describe('grants', () => {
  it('a sign-in and a first call record one grant, keyed by the token (sub, client_id, sid)', async () => {
    expect((await whoami(alice.client)).legacy_user_id).toBe(alice.id);
    const res = await request(h.url).get(`/admin/users/${alice.id}/grants`).set(admin).expect(200);
    const claims = decodeJwt(token(alice));
    expect(res.body.grants).toEqual([
      {
        id: expect.stringMatching(/^grant_/),
        client_id: claims.client_id,
        client_name: null,
        scopes: expect.arrayContaining(['openid', 'offline_access']),
        created_at: expect.any(String),
        last_used_at: expect.any(String),
        revoked_at: null,
        revoked_by: null,
        authkit_session: null,
      },
    ]);
    const row = await h.prisma.grant.findUniqueOrThrow({ where: { id: res.body.grants[0].id } });
    expect(row).toMatchObject({ workosUserId: claims.sub, sessionId: claims.sid, legacyUserId: alice.id });
    // Linked to the sign-in that started it.
    const completed = await h.prisma.loginTransaction.findFirst({
      where: { legacyUserId: alice.id, status: 'completed' },
    });
    expect(row.transactionId).toBe(completed!.id);
  });

  it('a refreshed token stays on the same grant', async () => {
    expect((await call(token(bob))).status).toBe(200);
    const before = await h.prisma.grant.count();
    const sid = decodeJwt(token(bob)).sid;
    const refreshed = await refreshAtAuthKit(bob);
    expect(refreshed.status).toBe(200);
    expect(refreshed.accessToken).not.toBe(token(alice));
    expect(decodeJwt(refreshed.accessToken!).sid).toBe(sid);
    expect((await call(refreshed.accessToken!)).status).toBe(200);
    expect(await h.prisma.grant.count()).toBe(before);
  });

  it('last use reaches the database (written every GRANT_LAST_USED_FLUSH_SECONDS)', async () => {
    const id = (await h.prisma.grant.findFirstOrThrow({ where: { legacyUserId: bob.id } })).id;
    const before = (await h.prisma.grant.findUniqueOrThrow({ where: { id } })).lastUsedAt.getTime();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 20; i++) expect((await call(token(bob))).status).toBe(200);
    const written = await eventually(
      async () => (await h.prisma.grant.findUniqueOrThrow({ where: { id } })).lastUsedAt.getTime() > before,
      true,
    );
    expect(written).toBe(true);
  });

  it('a token of a WorkOS user who never signed in here is refused like a revoked one', async () => {
    const stranger = await h.emulator.mintAccessToken({ aud: mcpUrl });
    const { status, challenge } = await call(stranger);
    expect(status).toBe(401);
    expect(challenge).toMatch(/error_description="[^"]*revoked[^"]*never signed in/);
  });
});

describe('the admin API', () => {
  it('needs the bearer token: 401 JSON without it or with a wrong one', async () => {
    const none = await request(h.url).get(`/admin/users/${alice.id}/grants`).expect(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await request(h.url)
      .post(`/admin/users/${alice.id}/revoke`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`)
      .expect(401);
    expect(wrong.body.error.message).toMatch(/wrong/);
    expect(await h.prisma.grant.count({ where: { revokedAt: { not: null } } })).toBe(0);
  });

  it('answers 404 JSON for an unknown grant and 400 for an unusable id', async () => {
    const res = await request(h.url).delete('/admin/grants/grant_nope').set(admin).expect(404);
    expect(res.body.error.message).toMatch(/no grant grant_nope/);
    await request(h.url)
      .get(`/admin/users/${'x'.repeat(300)}/grants`)
      .set(admin)
      .expect(400);
  });

  it('revoking a user ends the current token and a token refreshed afterwards within 5 s; others keep working', async () => {
    // An AuthKit whose session revocation does not reach refresh tokens: the bridge's own
    // refusal is what must hold.
    h.emulator.setSessionRevocation('ignored');
    const revokedBefore = await metric('grants_revoked_total', { by: 'admin-api' });
    const res = await request(h.url).post(`/admin/users/${alice.id}/revoke`).set(admin).expect(200);
    expect(res.body).toEqual({ revoked: 1 });

    expect(await refusedWithin(token(alice), 5000)).toBeLessThan(5000);
    const refreshed = await refreshAtAuthKit(alice);
    expect(refreshed.status).toBe(200);
    expect(await refusedWithin(refreshed.accessToken!, 5000)).toBeLessThan(5000);
    await expect(whoami(alice.client)).rejects.toThrow();

    expect((await whoami(bob.client)).legacy_user_id).toBe(bob.id);
    expect(await metric('grants_revoked_total', { by: 'admin-api' })).toBe(revokedBefore + 1);
    expect(await metric('mcp_tokens_refused_total', { reason: 'revoked' })).toBeGreaterThanOrEqual(2);

    const audit = await h.prisma.accessAudit.findMany({ where: { action: 'revoke_user' } });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'admin-api',
        actorDetail: expect.stringMatching(/^admin-token:[0-9a-f]{12}$/),
        legacyUserId: alice.id,
        count: 1,
        ip: expect.any(String),
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(ADMIN_TOKEN);
    // The AuthKit session was asked to end too (best effort), and the outcome recorded.
    expect(
      await eventually(
        async () => (await h.prisma.grant.findFirst({ where: { legacyUserId: alice.id } }))?.authkitSession,
        'revoked',
      ),
    ).toBe('revoked');
  });

  it('a new sign-in after the revocation starts a new grant that works', async () => {
    h.emulator.setSessionRevocation('works');
    await alice.client.close();
    alice = await signIn(alice.email, alice.password, alice.id);
    expect((await whoami(alice.client)).legacy_user_id).toBe(alice.id);
    const res = await request(h.url).get(`/admin/users/${alice.id}/grants`).set(admin).expect(200);
    expect(res.body.grants).toHaveLength(1);
    const all = await request(h.url)
      .get(`/admin/users/${alice.id}/grants?include_revoked=true`)
      .set(admin)
      .expect(200);
    expect(all.body.grants).toHaveLength(2);
    expect(all.body.grants[1]).toMatchObject({ revoked_by: 'admin-api', revoked_at: expect.any(String) });
  });

  it('DELETE /admin/grants/{id} ends one grant (204, idempotent); AuthKit ends its session', async () => {
    const listed = await request(h.url).get(`/admin/users/${bob.id}/grants`).set(admin).expect(200);
    const id = listed.body.grants[0].id as string;
    await request(h.url).delete(`/admin/grants/${id}`).set(admin).expect(204);
    expect(await refusedWithin(token(bob), 5000)).toBeLessThan(5000);
    await request(h.url).delete(`/admin/grants/${id}`).set(admin).expect(204);
    expect((await whoami(alice.client)).legacy_user_id).toBe(alice.id);
    expect(
      await eventually(
        async () => (await h.prisma.grant.findUnique({ where: { id } }))?.authkitSession,
        'revoked',
      ),
    ).toBe('revoked');
    // With the AuthKit session ended, the refresh token is dead at AuthKit as well.
    expect((await refreshAtAuthKit(bob)).status).toBe(400);
  });
});

describe('users:add -- --disable', () => {
  it('ends every grant of the user (picked up by the running bridge within 5 s); re-enabled, they sign in again', async () => {
    const lines: string[] = [];
    const io = { readPassword: async () => '', print: (l: string) => void lines.push(l) };
    const code = await runUsersAdd(
      ['--email', alice.email, '--disable'],
      new LocalUsersService(h.prisma, undefined as never),
      io,
      new GrantStore(h.prisma),
    );
    expect(code).toBe(0);
    expect(lines.join('\n')).toMatch(/disabled.*1 grant/s);
    expect(await refusedWithin(token(alice), 5000)).toBeLessThan(5000);
    const refreshed = await refreshAtAuthKit(alice);
    if (refreshed.status === 200) expect((await call(refreshed.accessToken!)).status).toBe(401);

    await runUsersAdd(
      ['--email', alice.email, '--enable'],
      new LocalUsersService(h.prisma, undefined as never),
      io,
    );
    await alice.client.close();
    alice = await signIn(alice.email, alice.password, alice.id);
    expect((await whoami(alice.client)).legacy_user_id).toBe(alice.id);
    const audit = await h.prisma.accessAudit.findFirst({ where: { actor: 'cli' } });
    expect(audit).toMatchObject({ action: 'disable_user', legacyUserId: alice.id, count: 1 });
  });
});

describeUnless(NEEDS_POSTGRES, __filename)('two instances on one PostgreSQL', () => {
  it('a revocation on one is refused by the other within 5 s', async () => {
    const otherPort = await freePort();
    const other = await createApp({ ...h.config, port: otherPort });
    await other.listen(otherPort, '127.0.0.1');
    const otherUrl = `http://127.0.0.1:${otherPort}`;
    try {
      // Both instances have seen (and cached) the token.
      expect((await call(token(alice), otherUrl)).status).toBe(200);
      expect((await call(token(alice))).status).toBe(200);
      await request(h.url).post(`/admin/users/${alice.id}/revoke`).set(admin).expect(200);
      const elapsed = await refusedWithin(token(alice), 5000, otherUrl);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await other.close();
    }
  });
});

describeUnless(NEEDS_POSTGRES, __filename)('the hot path makes no database round trip per call', () => {
  it('with the database gone, a known token and a token refreshed from a known grant still answer', async () => {
    const c = await users.create({ email: 'carol@lifecycle.example', password: 'carol-password-1' });
    const carol = await signIn(c.email, 'carol-password-1', c.id);
    try {
      expect((await call(token(carol))).status).toBe(200);
      const refreshed = await refreshAtAuthKit(carol);
      expect(refreshed.status).toBe(200);
      // Every database query from here on fails: the answers below come from memory alone.
      await db.drop();
      for (let i = 0; i < 50; i++) expect((await call(token(carol))).status).toBe(200);
      expect((await call(refreshed.accessToken!)).status).toBe(200);
    } finally {
      await carol.client.close();
    }
  });
});
