/**
 * Roles and tenant of the caller, end to end: whoami shows them, tools/list shows a tool that
 * names roles only to callers with one of them, and a call without one gets an error result
 * naming the roles (200, never a 403 challenge: re-authorizing gives no role). Callers are
 * tokens the emulator mints for made-up users whose user link (roles, tenants) the test writes
 * straight into the database, as the login bridge would at sign-in.
 */
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import request from 'supertest';
import { PrismaService } from '../../src/database/prisma.service';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from './helpers';

const textOf = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0].text;

describe('roles and tenant of the caller', () => {
  let w: McpWorld;
  let n = 0;

  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  /**
   * A token for a new made-up user whose user link carries `roles` and `tenants` (written before
   * the bridge first sees the user, so nothing cached stands in the way).
   */
  async function userWith(
    link: { roles: string[]; tenants?: Array<{ id: string; name: string }> },
    claims: Record<string, unknown> = {},
  ): Promise<{ sub: string; token: string }> {
    n += 1;
    const sub = `user_roles_${n}`;
    await w.bridge.app.get(PrismaService).userLink.upsert({
      where: { legacyUserId: `legacy-roles-${n}` },
      create: {
        legacyUserId: `legacy-roles-${n}`,
        workosUserId: sub,
        email: `person${n}@example.com`,
        firstName: 'Grace',
        lastName: 'Hopper',
        roles: link.roles,
        tenants: link.tenants ?? [],
      },
      update: { workosUserId: sub, roles: link.roles, tenants: link.tenants ?? [] },
    });
    const token = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, sub, ...claims });
    return { sub, token };
  }

  const post = (token: string, body: unknown) =>
    request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Accept', 'application/json')
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);

  it('an admin (v2 client): whoami shows roles and tenant, admin_overview is listed and answers', async () => {
    const { sub, token } = await userWith({
      roles: ['admin', 'reader'],
      tenants: [{ id: 't1', name: 'Acme' }],
    });
    const client = new V2Client({ name: 'v2-roles', version: '1.0.0' });
    await client.connect(
      new V2Transport(new URL(w.bridge.mcpUrl), { authProvider: { token: async () => token } }),
    );
    try {
      const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(me).toMatchObject({ sub, roles: ['admin', 'reader'], tenant: { id: 't1', name: 'Acme' } });
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['admin_overview', 'get_profile', 'whoami']);
      const overview = await client.callTool({ name: 'admin_overview', arguments: {} });
      expect(overview.isError).toBeFalsy();
      expect(overview.structuredContent).toMatchObject({
        signed_in_as: { sub, legacy_user_id: expect.stringMatching(/^legacy-roles-/), name: 'Grace Hopper' },
        roles: ['admin', 'reader'],
        tenant: { id: 't1', name: 'Acme' },
      });
    } finally {
      await client.close();
    }
  });

  it('a reader (v1 client): admin_overview is not listed, and a call is refused naming the roles', async () => {
    const { token } = await userWith(
      {
        roles: ['reader'],
        tenants: [
          { id: 't1', name: 'Acme' },
          { id: 't2', name: 'Globex' },
        ],
      },
      { tenant: 't2' },
    );
    const client = new V1Client({ name: 'v1-roles', version: '1.0.0' });
    await client.connect(
      new V1Transport(new URL(w.bridge.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      // Two tenants: the one chosen on the consent screen (claim `tenant`).
      expect(me).toMatchObject({ roles: ['reader'], tenant: { id: 't2', name: 'Globex' } });
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['get_profile', 'whoami']);
      const refused = await client.callTool({ name: 'admin_overview', arguments: {} });
      expect(refused).toEqual({
        content: [{ type: 'text', text: 'This tool needs one of the roles: admin. You have: reader.' }],
        isError: true,
      });
    } finally {
      await client.close();
    }
  });

  it('a refusal for a missing role is a 200 with an error result, never a 403 challenge', async () => {
    // Even with scopes the token lacks, the role decides first: AuthKit cannot grant a role.
    const { token } = await userWith({ roles: [] }, { scope: 'openid' });
    const res = await post(token, toolCall('admin_overview', {}, 4));
    expect(res.status).toBe(200);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      id: 4,
      result: {
        content: [{ type: 'text', text: 'This tool needs one of the roles: admin. You have none.' }],
        isError: true,
      },
    });
    // The scope challenge still comes for a tool the caller lacks only scopes for.
    const scoped = await post(token, toolCall('get_profile', {}, 5));
    expect(scoped.status).toBe(403);
    expect(scoped.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('roles are empty and the tenant null for a user with none, or a tenant claim that is not theirs', async () => {
    const unlinked = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, sub: 'user_roles_unlinked' });
    const stranger = await userWith(
      { roles: ['admin'], tenants: [{ id: 't1', name: 'Acme' }] },
      { tenant: 't9' },
    );
    for (const token of [unlinked, stranger.token]) {
      const res = await post(token, toolCall('whoami'));
      expect(res.status).toBe(200);
      const me = JSON.parse(res.body.result.content[0].text);
      expect(me.tenant).toBeNull();
      expect(me.roles).toEqual(token === unlinked ? [] : ['admin']);
    }
  });

  it('/docs/mcp shows the role a tool needs', async () => {
    const res = await request(w.bridge.url).get('/docs/mcp');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/<code>admin_overview<\/code>: [^<]*<small>\(role: admin\)<\/small>/);
    expect(res.text).toContain('(scopes: profile email)');
  });
});
