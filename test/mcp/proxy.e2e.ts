import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { startUpstreamMcp, type UpstreamMcp } from '../fixtures/upstream-mcp';
import { createTestDatabase } from '../helpers/database';
import { freePort, MCP_HEADERS, startBridge, startWorld, toolCall, type McpWorld } from './helpers';
import { signIn } from './oauth';

const SECRET = 'upstream-secret-0123456789abcdef-0123456789';
const CLIENT = { clientId: 'client_mcp_test', redirectUri: 'http://127.0.0.1:33419/callback' };
const USER = { id: 'legacy-linus', email: 'linus@example.com', first_name: 'Linus' };

describe('proxy mode (MCP_UPSTREAM_URL)', () => {
  let upstream: UpstreamMcp;
  let w: McpWorld;
  let token: string;

  beforeAll(async () => {
    upstream = await startUpstreamMcp(SECRET);
    w = await startWorld({ MCP_UPSTREAM_URL: upstream.url, MCP_UPSTREAM_SECRET: SECRET });
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

  it('forwards verified calls with the identity in a bridge-signed token, never the client token', async () => {
    const client = new V1Client({ name: 'v1-proxy', version: '1' });
    await client.connect(
      new V1Transport(new URL(w.bridge.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
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
    // The session id the upstream issued came back to the client and was sent upstream again.
    expect(upstream.requests.some((r) => r.headers['mcp-session-id'] === 'fixture-session')).toBe(true);
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
    expect(res.headers.get('mcp-session-id')).toBe('fixture-session');
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
});
