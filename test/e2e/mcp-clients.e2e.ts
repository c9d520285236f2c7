/**
 * The whole product, headless, as MCP clients meet it: the official v1 and v2 SDK clients start
 * from nothing (401 → discovery → registration → authorize at the AuthKit emulator → the bridge's
 * Login URI → the legacy login → completion → code → token → tools/call whoami), then their
 * access tokens expire and they refresh without anyone signing in again. Once per legacy strategy.
 */
import { LEGACY_USERS } from '../fixtures/legacy-app';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { startHarness, type Harness } from '../login/harness';
import {
  BrowserOAuthProvider,
  clientWebsites,
  connectClient,
  waitForExpiry,
  whoami,
  type Credentials,
  type Exchange,
  type McpClient,
  type Sdk,
} from './mcp-flow';

/** Short-lived access tokens (the bridge accepts 5 s of clock skew on top). */
const TOKEN_TTL_SECONDS = 1;
const CLOCK_TOLERANCE_SECONDS = 5;

type Strategy = 'local' | 'session-introspection' | 'jwt-cookie';
interface Case {
  strategy: Strategy;
  who: Credentials & { first_name?: string; roles?: string[] };
  /** Which SDK registers dynamically and which one uses a Client ID Metadata Document. */
  registration: Record<Sdk, 'dcr' | 'cimd'>;
}

const [alice, bob] = LEGACY_USERS;
const CASES: Case[] = [
  {
    strategy: 'local',
    who: { email: 'carol@example.com', password: 'carol-password-1' },
    registration: { v1: 'dcr', v2: 'cimd' },
  },
  { strategy: 'session-introspection', who: alice, registration: { v1: 'cimd', v2: 'dcr' } },
  { strategy: 'jwt-cookie', who: bob, registration: { v1: 'dcr', v2: 'cimd' } },
];

interface World {
  h: Harness;
  legacyUserId: string;
  providers: Partial<Record<Sdk, BrowserOAuthProvider>>;
  clients: Partial<Record<Sdk, McpClient>>;
  logs: Record<Sdk, Exchange[]>;
}

/** One bridge (with its emulator, database and legacy app) per strategy, started side by side. */
const worlds = new Map<Strategy, World>();
/** The access tokens the sign-ins got (the refresh tests wait until all of them expired). */
const signInTokens: string[] = [];

beforeAll(async () => {
  await Promise.all(
    CASES.map(async ({ strategy, who }) => {
      const world: World = {
        legacyUserId: '',
        providers: {},
        clients: {},
        logs: { v1: [], v2: [] },
      } as never;
      world.h = await startHarness({
        strategy,
        emulator: {
          accessTokenTtlSeconds: TOKEN_TTL_SECONDS,
          fetch: clientWebsites(() => Object.values(world.providers)),
        },
      });
      if (strategy === 'local') {
        const carol = await world.h.app.get(LocalUsersService).create({ ...who, firstName: 'Carol' });
        world.legacyUserId = carol.id;
      } else world.legacyUserId = String(LEGACY_USERS.find((u) => u.email === who.email)!.id);
      worlds.set(strategy, world);
    }),
  );
}, 60_000);
afterAll(async () => {
  for (const w of worlds.values()) {
    for (const c of Object.values(w.clients)) await c.close();
    await w.h.close();
  }
});

const mcpUrlOf = (w: World) => `${w.h.url}/mcp`;
const completionsOf = (w: World) => w.h.emulator.completionCalls().filter((c) => c.userId === w.legacyUserId);
const path = (url: string) => new URL(url).pathname;

describe.each(CASES)('MCP SDK clients sign in, $strategy strategy', ({ strategy, who, registration }) => {
  it.each(['v1', 'v2'] as const)(
    '%s client: 401 → discovery → registration → legacy login → token → whoami names the legacy user',
    async (sdk) => {
      const w = worlds.get(strategy)!;
      const { h, legacyUserId } = w;
      const mcpUrl = mcpUrlOf(w);
      const cimd = registration[sdk] === 'cimd';
      const port = 33500 + CASES.findIndex((c) => c.strategy === strategy) * 2;
      const provider = new BrowserOAuthProvider({
        name: `e2e ${sdk} client`,
        redirectUrl: `http://127.0.0.1:${port + (sdk === 'v1' ? 0 : 1)}/callback`,
        who,
        clientMetadataUrl: cimd ? `https://${sdk}.client.example/oauth/metadata.json` : undefined,
        addOfflineAccess: sdk === 'v1',
      });
      w.providers[sdk] = provider;
      const before = completionsOf(w).length;
      const log = w.logs[sdk];
      const client = (w.clients[sdk] = await connectClient(sdk, mcpUrl, provider, log));
      signInTokens.push(provider.accessToken!);

      // What the SDK did, in order: the 401, discovery at the bridge then at AuthKit, registration
      // (none with a metadata document), the token request, the authorized MCP request.
      expect(log[0]).toMatchObject({ method: 'POST', url: mcpUrl, status: 401 });
      const seen = log.map((e) => `${e.method} ${path(e.url)} ${e.status}`);
      expect(seen).toContain('GET /.well-known/oauth-protected-resource/mcp 200');
      expect(log.some((e) => e.url.startsWith(h.emulator.issuer) && /\/\.well-known\//.test(e.url))).toBe(
        true,
      );
      expect(seen.includes('POST /oauth2/register 201')).toBe(!cimd);
      expect(log.find((e) => e.grant === 'authorization_code')).toMatchObject({ status: 200 });
      // then initialize (200) and notifications/initialized (202), authorized
      expect(log.slice(-2).map((e) => `${e.method} ${e.url} ${e.status}`)).toEqual([
        `POST ${mcpUrl} 200`,
        `POST ${mcpUrl} 202`,
      ]);
      const clientId = (provider.clientInfo as { client_id: string }).client_id;
      if (cimd) expect(clientId).toBe(provider.clientMetadataUrl);
      else expect(clientId).toMatch(/^client_/);

      // The browser went through the bridge's Login URI (and, for the other strategies, the legacy app).
      expect(provider.authorizations[0].searchParams.get('resource')).toBe(mcpUrl);
      const history = provider.browser.history;
      expect(history.some((u) => u.startsWith(`${h.url}/auth/login?external_auth_id=`))).toBe(true);
      if (strategy !== 'local') expect(history.some((u) => u.startsWith(h.legacy!.loginUrl))).toBe(true);
      expect(completionsOf(w).length).toBe(before + 1);
      expect(completionsOf(w).at(-1)).toMatchObject({ status: 200 });

      const me = await whoami(client);
      const workosUser = h.emulator.users().find((u) => u.externalId === legacyUserId)!;
      expect(me).toMatchObject({
        sub: workosUser.id,
        legacy_user_id: legacyUserId,
        email: who.email,
        client_id: clientId,
      });
      expect(me.scopes).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
      // The roles the legacy app gave (fixture: alice an admin, bob a reader; carol, local, none).
      const roles = who.roles ?? [];
      expect(me).toMatchObject({ roles });
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(
        roles.includes('admin') ? ['admin_overview', 'get_profile', 'whoami'] : ['get_profile', 'whoami'],
      );
    },
  );
});

describe.each(CASES)('MCP SDK clients after their tokens expire, $strategy strategy', ({ strategy }) => {
  it('both clients refresh without a new login', async () => {
    const w = worlds.get(strategy)!;
    const sdks = ['v1', 'v2'] as const;
    const first = sdks.map((s) => w.providers[s]!.accessToken!);
    const completed = completionsOf(w).length;
    // One wait serves every strategy: all tokens were issued before the first of these tests.
    await waitForExpiry(signInTokens, CLOCK_TOLERANCE_SECONDS + 0.5);
    // The old token is refused now.
    const refused = await fetch(mcpUrlOf(w), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${first[0]}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(refused.status).toBe(401);

    for (const [i, sdk] of sdks.entries()) {
      const provider = w.providers[sdk]!;
      const me = await whoami(w.clients[sdk]!);
      expect(me.legacy_user_id).toBe(w.legacyUserId);
      expect(provider.accessToken).not.toBe(first[i]);
      expect(w.logs[sdk].filter((e) => e.grant === 'refresh_token')).toEqual([
        expect.objectContaining({ status: 200 }),
      ]);
      expect(provider.authorizations).toHaveLength(1);
    }
    expect(completionsOf(w).length).toBe(completed);
  });
});
