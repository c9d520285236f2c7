import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { startUpstreamMcp, type UpstreamMcp } from '../fixtures/upstream-mcp';
import { PrismaService } from '../../src/database/prisma.service';
import { createTestDatabase } from '../helpers/database';
import { freePort, MCP_HEADERS, startBridge, startWorld, toolCall, type McpWorld } from './helpers';
import { signIn } from './oauth';
import { rawRequest } from './raw-http';

const SECRET = 'upstream-secret-0123456789abcdef-0123456789';
const CLIENT = { clientId: 'client_mcp_test', redirectUri: 'http://127.0.0.1:33419/callback' };
const USER = { id: 'legacy-linus', email: 'linus@example.com', first_name: 'Linus' };
/** MCP_UPSTREAM_TOOL_SCOPES of the world: slow_steps is not listed (no scope needed). */
const TOOL_SCOPES = { upstream_whoami: ['profile'], regional_lookup: ['regions:read'] };
const UPSTREAM_ID = /^fixture-session-\d+$/;
const SESSION_NOT_FOUND = (id: unknown) => ({
  jsonrpc: '2.0',
  error: { code: -32001, message: 'Session not found' },
  id,
});
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

describe('proxy mode (MCP_UPSTREAM_URL)', () => {
  let upstream: UpstreamMcp;
  let w: McpWorld;
  let token: string;

  beforeAll(async () => {
    upstream = await startUpstreamMcp(SECRET);
    w = await startWorld({
      MCP_UPSTREAM_URL: upstream.url,
      MCP_UPSTREAM_SECRET: SECRET,
      MCP_UPSTREAM_TOOL_SCOPES: JSON.stringify(TOOL_SCOPES),
    });
    token = await signIn(w.emulator, {
      ...CLIENT,
      scope: 'openid profile email',
      resource: w.bridge.mcpUrl,
      user: USER,
    });
  });
  afterAll(async () => {
    await w.close();
    await upstream.close();
  });

  /** A token for a made-up user `sub` (the world accepts unlinked users). */
  const tokenFor = (sub: string, scope = 'openid profile email') =>
    w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, sub, scope });
  const mcp = (
    method: string,
    bearer: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    fetch(w.bridge.mcpUrl, {
      method,
      headers: {
        ...MCP_HEADERS,
        ...(method === 'GET' && { Accept: 'text/event-stream' }),
        Authorization: `Bearer ${bearer}`,
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  /** The session id the bridge hands `bearer`'s owner at initialize. */
  const openSession = async (bearer: string): Promise<string> => {
    const res = await mcp('POST', bearer, { body: INITIALIZE });
    expect(res.status).toBe(200);
    await res.text();
    return res.headers.get('mcp-session-id')!;
  };

  it('forwards verified calls with the identity in a bridge-signed token, never the client token', async () => {
    const client = new V1Client({ name: 'v1-proxy', version: '1' });
    await client.connect(
      new V1Transport(new URL(w.bridge.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
        'regional_lookup',
        'slow_steps',
        'upstream_whoami',
      ]);
      const result = await client.callTool({ name: 'upstream_whoami', arguments: {} });
      const claims = JSON.parse((result.content as Array<{ text: string }>)[0].text);
      const sub = w.emulator.users().find((u) => u.externalId === USER.id)!.id;
      expect(claims).toMatchObject({
        iss: w.bridge.url,
        aud: upstream.url,
        sub,
        legacy_user_id: 'legacy-linus',
        email: 'linus@example.com',
        client_id: CLIENT.clientId,
        scope: 'openid profile email',
        // Linus has no roles or tenants in the legacy app.
        roles: [],
        tenant: null,
      });
      expect(claims.exp - claims.iat).toBe(60);
    } finally {
      await client.close();
    }
    const signature = token.split('.')[2];
    for (const seen of upstream.requests) {
      expect(JSON.stringify(seen.headers)).not.toContain(signature);
      expect(seen.headers.authorization).not.toBe(`Bearer ${token}`);
      expect(seen.headers.cookie).toBeUndefined();
      expect(seen.identity?.sub).toBeDefined();
    }
    // The session id the upstream issued went back to the client (bound to the caller) and came
    // back to the upstream as the upstream issued it.
    expect(upstream.requests.some((r) => UPSTREAM_ID.test(String(r.headers['mcp-session-id'])))).toBe(true);
    for (const seen of upstream.requests) {
      const session = seen.headers['mcp-session-id'];
      if (session !== undefined) expect(session).toMatch(UPSTREAM_ID);
    }
  });

  it("carries the caller's roles and tenant in the identity token", async () => {
    const sub = 'user_proxy_roles';
    await w.bridge.app.get(PrismaService).userLink.upsert({
      where: { legacyUserId: 'legacy-grace' },
      create: {
        legacyUserId: 'legacy-grace',
        workosUserId: sub,
        email: 'grace@example.com',
        roles: ['admin', 'billing'],
        tenants: [
          { id: 't1', name: 'Acme' },
          { id: 't2', name: 'Globex' },
        ],
      },
      update: {},
    });
    // Two tenants: the token names the one chosen on AuthKit's consent screen.
    const bearer = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, sub, tenant: 't2' });
    const before = upstream.requests.length;
    const res = await mcp('POST', bearer, {
      body: toolCall('upstream_whoami', {}, 12),
      headers: { Accept: 'application/json, text/event-stream' },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    // The upstream's tool answers with the claims it verified (JSON text inside the SSE event).
    expect(text).toContain('\\"roles\\":[\\"admin\\",\\"billing\\"]');
    const seen = upstream.requests.slice(before).find((r) => r.identity?.sub === sub);
    expect(seen?.identity).toMatchObject({
      sub,
      legacy_user_id: 'legacy-grace',
      roles: ['admin', 'billing'],
      tenant: { id: 't2', name: 'Globex' },
    });
  });

  it('streams the upstream answer as it arrives (SSE passes through, not buffered)', async () => {
    const started = Date.now();
    const res = await fetch(w.bridge.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${token}`, Cookie: 'sid=secret' },
      body: JSON.stringify(toolCall('slow_steps', {}, 5)),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('mcp-session-id')).toBeTruthy();
    expect(res.headers.get('mcp-session-id')).not.toMatch(/fixture-session/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let firstEventAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
      if (!firstEventAt && text.includes('step 1')) firstEventAt = Date.now();
    }
    const endedAt = Date.now();
    expect(text).toContain('"done"');
    expect(firstEventAt).toBeGreaterThan(started);
    expect(endedAt - firstEventAt).toBeGreaterThanOrEqual(150);
    const last = upstream.requests[upstream.requests.length - 1];
    expect(last.headers.cookie).toBeUndefined();
  });

  it('still refuses unauthenticated requests itself (the upstream never sees them)', async () => {
    const before = upstream.requests.length;
    const res = await request(w.bridge.url).post('/mcp').set(MCP_HEADERS).send(toolCall('upstream_whoami'));
    expect(res.status).toBe(401);
    expect(upstream.requests.length).toBe(before);
  });

  it('answers 502 (not 401) when the upstream refuses the bridge, and when it is down', async () => {
    const db = await createTestDatabase();
    const wrong = await startBridge(w.emulator, db.database, {
      MCP_UPSTREAM_URL: upstream.url,
      MCP_UPSTREAM_SECRET: 'another-secret-0123456789abcdef-012345',
      LOG_LEVEL: 'silent',
    });
    const down = await startBridge(w.emulator, db.database, {
      MCP_UPSTREAM_URL: `http://127.0.0.1:${await freePort()}/mcp`,
      MCP_UPSTREAM_SECRET: SECRET,
      LOG_LEVEL: 'silent',
    });
    try {
      for (const [bridge, message] of [
        [wrong, "The upstream MCP server refused the bridge's credentials."],
        [down, 'The upstream MCP server is unreachable.'],
      ] as const) {
        const t = await w.emulator.mintAccessToken({ aud: bridge.mcpUrl });
        const res = await request(bridge.url)
          .post('/mcp')
          .set(MCP_HEADERS)
          .set('Authorization', `Bearer ${t}`)
          .send(toolCall('x', {}, 3));
        expect(res.status).toBe(502);
        expect(res.headers['www-authenticate']).toBeUndefined();
        expect(res.body).toEqual({ jsonrpc: '2.0', error: { code: -32603, message }, id: 3 });
      }
    } finally {
      await wrong.close();
      await down.close();
      await db.dispose();
    }
  });

  describe('Mcp-Session-Id is bound to the caller', () => {
    it('hands out a session id bound to the caller and sends the upstream its own id, never the bound one', async () => {
      const alice = await tokenFor('user_alice');
      const before = upstream.requests.length;
      const session = await openSession(alice);
      expect(session).toMatch(/^[\x21-\x7e]+$/); // visible ASCII, as the MCP spec requires
      expect(session).not.toMatch(UPSTREAM_ID);
      const issued = upstream.requests[upstream.requests.length - 1];
      const raw = [...upstream.sessions].find(([, sub]) => sub === 'user_alice')![0];
      expect(issued.headers['mcp-session-id']).toBeUndefined();

      const call = await mcp('POST', alice, {
        body: toolCall('slow_steps', {}, 7),
        headers: { 'Mcp-Session-Id': session },
      });
      expect(call.status).toBe(200);
      expect(await call.text()).toContain('"done"');
      expect(call.headers.get('mcp-session-id')).toBe(session);
      const seen = upstream.requests.slice(before);
      expect(seen.map((r) => r.headers['mcp-session-id'])).toEqual([undefined, raw]);
    });

    it("refuses another user's session id with 404 on POST, GET and DELETE; the upstream never sees it", async () => {
      const alice = await tokenFor('user_alice');
      const mallory = await tokenFor('user_mallory');
      const session = await openSession(alice);
      const before = upstream.requests.length;
      for (const method of ['POST', 'GET', 'DELETE']) {
        const res = await mcp(method, mallory, {
          body: method === 'POST' ? toolCall('upstream_whoami', {}, 9) : undefined,
          headers: { 'Mcp-Session-Id': session },
        });
        expect({ method, status: res.status }).toEqual({ method, status: 404 });
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual(SESSION_NOT_FOUND(method === 'POST' ? 9 : null));
      }
      expect(upstream.requests.length).toBe(before);
    });

    it('refuses forged session ids with 404: the upstream id itself, a tampered one, garbage', async () => {
      const alice = await tokenFor('user_alice');
      const session = await openSession(alice);
      const raw = [...upstream.sessions].filter(([, sub]) => sub === 'user_alice').pop()![0];
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      const before = upstream.requests.length;
      for (const forged of [
        raw,
        flip(session, session.length - 2),
        flip(session, 3),
        `${session}x`,
        session.slice(0, -1),
        'x',
        '.',
        '..',
        'x'.repeat(5000),
      ]) {
        const res = await mcp('POST', alice, {
          body: toolCall('slow_steps', {}, 'f'),
          headers: { 'Mcp-Session-Id': forged },
        });
        expect({ forged: forged.slice(0, 60), status: res.status }).toEqual({
          forged: forged.slice(0, 60),
          status: 404,
        });
        expect(await res.json()).toEqual(SESSION_NOT_FOUND('f'));
      }
      expect(upstream.requests.length).toBe(before);
    });
  });

  describe('SSE event ids are bound to the caller (Last-Event-ID)', () => {
    const eventIds = (text: string) => [...text.matchAll(/^id: ?(.*?)\r?$/gm)].map((m) => m[1]);

    it("hands out event ids bound to the caller, and refuses another user's or a forged Last-Event-ID with 400", async () => {
      const alice = await tokenFor('user_alice');
      const mallory = await tokenFor('user_mallory');
      const first = await mcp('GET', alice);
      expect(first.status).toBe(200);
      const text = await first.text();
      expect(text).toMatch(/event \d+ for user_alice/);
      expect(text).toContain('\r\n\r\n'); // the upstream's line ends pass through
      const [bound] = eventIds(text);
      expect(bound).toMatch(/^[\x21-\x7e]+$/);
      expect(bound).not.toMatch(/^evt-/);
      const raw = `evt-${/event (\d+) for/.exec(text)![1]}`;

      const before = upstream.requests.length;
      for (const [who, token, lastEventId] of [
        ['another user', mallory, bound],
        ['the upstream id itself', mallory, raw],
        ['a session id in its place', alice, await openSession(alice)],
        ['garbage', alice, 'e1.x.y'],
      ] as const) {
        const seen = upstream.requests.length;
        const res = await mcp('GET', token, { headers: { 'Last-Event-ID': lastEventId } });
        expect({ who, status: res.status }).toEqual({ who, status: 400 });
        expect(await res.json()).toEqual({
          jsonrpc: '2.0',
          error: {
            code: -32600,
            message: 'Invalid Request: Last-Event-ID names no event this server sent you.',
          },
          id: null,
        });
        expect(upstream.requests.length).toBe(seen);
      }
      // (openSession above was the only request to reach the upstream.)
      expect(upstream.requests.length).toBe(before + 1);

      const resumed = await mcp('GET', alice, { headers: { 'Last-Event-ID': bound } });
      expect(resumed.status).toBe(200);
      await resumed.text();
      expect(upstream.requests[upstream.requests.length - 1].headers['last-event-id']).toBe(raw);
    });
  });

  describe('per-tool scopes of upstream tools (MCP_UPSTREAM_TOOL_SCOPES)', () => {
    const PRM = () => `${w.bridge.url}/.well-known/oauth-protected-resource/mcp`;

    it('refuses a tools/call the token lacks scopes for with 403 insufficient_scope, as for local tools', async () => {
      const narrow = await tokenFor('user_narrow', 'openid email');
      const before = upstream.requests.length;
      const res = await mcp('POST', narrow, { body: toolCall('upstream_whoami', {}, 11) });
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", error_description="The tool upstream_whoami requires the scopes: profile.", scope="openid email profile", resource_metadata="${PRM()}"`,
      );
      expect(await res.json()).toEqual({
        jsonrpc: '2.0',
        error: { code: -32001, message: 'Forbidden: The tool upstream_whoami requires the scopes: profile.' },
        id: 11,
      });
      const batch = await mcp('POST', narrow, {
        body: [toolCall('slow_steps', {}, 1), toolCall('regional_lookup', { region: 'eu' }, 2)],
      });
      expect(batch.status).toBe(403);
      expect(batch.headers.get('www-authenticate')).toContain('scope="openid email regions:read"');
      expect(upstream.requests.length).toBe(before);
    });

    it('forwards the call once the token has the scopes, and tools not listed need none', async () => {
      const wide = await tokenFor('user_wide', 'openid profile email regions:read');
      const call = await mcp('POST', wide, { body: toolCall('regional_lookup', { region: 'eu' }, 12) });
      expect(call.status).toBe(200);
      expect(await call.text()).toContain('region eu');
      const narrow = await tokenFor('user_narrow', 'openid');
      const unlisted = await mcp('POST', narrow, { body: toolCall('slow_steps', {}, 13) });
      expect(unlisted.status).toBe(200);
      expect(await unlisted.text()).toContain('"done"');
    });

    it('advertises the scopes of upstream tools in scopes_supported', async () => {
      const doc = (await fetch(PRM()).then((r) => r.json())) as { scopes_supported: string[] };
      expect(doc.scopes_supported).toEqual(expect.arrayContaining(['profile', 'regions:read']));
    });
  });

  describe('MCP request headers (Mcp-Method, Mcp-Name, Mcp-Param-*)', () => {
    let wide: string;
    beforeAll(async () => {
      wide = await tokenFor('user_headers', 'openid profile email regions:read');
    });

    /** A 2026-07-28 tools/call of regional_lookup, as the v2 SDK client sends it. */
    async function modernCall(): Promise<{ body: Record<string, unknown>; headers: Record<string, string> }> {
      const client = new V2Client(
        { name: 'v2-modern-proxy', version: '1.0.0' },
        { versionNegotiation: { mode: 'auto' } },
      );
      await client.connect(
        new V2Transport(new URL(w.bridge.mcpUrl), { authProvider: { token: async () => wide } }),
      );
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
        const { tools } = await client.listTools();
        const lookup = tools.find((t) => t.name === 'regional_lookup')!;
        expect(lookup.inputSchema.properties?.region).toMatchObject({ 'x-mcp-header': 'Region' });
        const before = upstream.requests.length;
        const result = await client.callTool({ name: 'regional_lookup', arguments: { region: 'eu-west' } });
        expect(result.content).toEqual([{ type: 'text', text: 'region eu-west' }]);
        const seen = upstream.requests.slice(before).find((r) => r.headers['mcp-method'] === 'tools/call')!;
        expect(seen.headers).toMatchObject({
          'mcp-method': 'tools/call',
          'mcp-name': 'regional_lookup',
          'mcp-param-region': 'eu-west',
          'mcp-protocol-version': '2026-07-28',
        });
        return {
          body: seen.body as Record<string, unknown>,
          headers: {
            'MCP-Protocol-Version': '2026-07-28',
            'Mcp-Method': 'tools/call',
            'Mcp-Name': 'regional_lookup',
            'Mcp-Param-Region': 'eu-west',
          },
        };
      } finally {
        await client.close();
      }
    }

    it('forwards Mcp-Param-* of a 2026-07-28 tools/call, so an upstream tool with x-mcp-header serves it', async () => {
      const { body, headers } = await modernCall();
      const again = await mcp('POST', wide, { body, headers });
      expect(again.status).toBe(200);
      expect(await again.text()).toContain('region eu-west');
      const encoded = await mcp('POST', wide, {
        body: { ...body, params: { ...(body.params as object), arguments: { region: 'Zürich' } } },
        headers: { ...headers, 'Mcp-Param-Region': `=?base64?${Buffer.from('Zürich').toString('base64')}?=` },
      });
      expect(encoded.status).toBe(200);
      expect(await encoded.text()).toContain('region Zürich');
    });

    it('answers an Mcp-Param-* header that disagrees with the body with 400 -32020', async () => {
      const { body, headers } = await modernCall();
      for (const value of ['us-east', '=?base64?not base64?=']) {
        const res = await mcp('POST', wide, { body, headers: { ...headers, 'Mcp-Param-Region': value } });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32020 }, id: body.id });
      }
    });

    it('refuses a request whose Mcp-Method or Mcp-Name disagrees with its body (400 -32020); the upstream never sees it', async () => {
      const { body, headers } = await modernCall();
      const legacy = toolCall('regional_lookup', { region: 'eu' }, 21);
      const before = upstream.requests.length;
      for (const [what, request, extra] of [
        ['modern, Mcp-Method', body, { ...headers, 'Mcp-Method': 'tools/list' }],
        ['modern, Mcp-Name', body, { ...headers, 'Mcp-Name': 'upstream_whoami' }],
        ['modern, bad Mcp-Name encoding', body, { ...headers, 'Mcp-Name': '=?base64?***?=' }],
        ['modern, MCP-Protocol-Version', body, { ...headers, 'MCP-Protocol-Version': '2025-06-18' }],
        ['2025-era, Mcp-Method', legacy, { 'Mcp-Method': 'tools/list' }],
        ['2025-era, Mcp-Name', legacy, { 'Mcp-Name': 'slow_steps' }],
        [
          'a batch, Mcp-Method',
          [legacy, { ...legacy, id: 22, method: 'tools/list' }],
          { 'Mcp-Method': 'tools/call' },
        ],
      ] as const) {
        const res = await mcp('POST', wide, { body: request, headers: extra });
        expect({ what, status: res.status }).toEqual({ what, status: 400 });
        const answer = (await res.json()) as { error: { message: string } };
        expect(answer).toMatchObject({ jsonrpc: '2.0', error: { code: -32020 } });
        expect(answer.error.message).toMatch(/^Bad Request: the request headers and body disagree: /);
      }
      expect(upstream.requests.length).toBe(before);
    });

    it('never forwards Authorization, cookies, DPoP, hop-by-hop headers or headers named in Connection', async () => {
      const { body, headers } = await modernCall();
      const before = upstream.requests.length;
      // node:http, not fetch: fetch refuses to send hop-by-hop headers at all.
      const res = await rawRequest(w.bridge.url, 'POST', '/mcp', {
        body: JSON.stringify(body),
        headers: {
          ...MCP_HEADERS,
          Authorization: `Bearer ${wide}`,
          ...headers,
          Cookie: 'sid=secret',
          DPoP: 'proof',
          'Proxy-Authorization': 'Basic eDp5',
          'Keep-Alive': 'timeout=5',
          TE: 'trailers',
          Upgrade: 'websocket',
          Connection: 'keep-alive, Upgrade, Mcp-Param-Other, X-Private',
          'Mcp-Param-Other': 'hop-by-hop',
          'X-Private': 'internal',
          'X-Forwarded-For': '10.0.0.1',
        },
      });
      expect(res.status).toBe(200);
      expect(res.text).toContain('region eu-west');
      const seen = upstream.requests.slice(before);
      expect(seen).toHaveLength(1);
      const names = Object.keys(seen[0].headers);
      for (const name of [
        'cookie',
        'dpop',
        'proxy-authorization',
        'keep-alive',
        'te',
        'upgrade',
        'mcp-param-other',
        'x-private',
        'x-forwarded-for',
      ]) {
        expect({ name, forwarded: names.includes(name) }).toEqual({ name, forwarded: false });
      }
      expect(seen[0].headers.authorization).not.toBe(`Bearer ${wide}`);
      expect(seen[0].headers['mcp-param-region']).toBe('eu-west');
    });

    it('does not forward Mcp-Param-* on a 2025-era request (no upstream checks them there)', async () => {
      const before = upstream.requests.length;
      const res = await mcp('POST', wide, {
        body: toolCall('regional_lookup', { region: 'eu' }, 23),
        headers: { 'Mcp-Param-Region': 'us-east', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'regional_lookup' },
      });
      expect(res.status).toBe(200);
      await res.text();
      const seen = upstream.requests.slice(before);
      expect(seen).toHaveLength(1);
      expect(seen[0].headers['mcp-param-region']).toBeUndefined();
      expect(seen[0].headers['mcp-method']).toBe('tools/call');
    });
  });
});
