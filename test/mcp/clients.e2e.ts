import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import request from 'supertest';
import type { RunningEmulator } from '../../emulator';
import { PrismaService } from '../../src/database/prisma.service';
import { McpAuthService } from '../../src/mcp/auth/mcp-auth.service';
import { IdentityService } from '../../src/mcp/identity/identity.service';
import { MemoryOAuthProvider } from '../helpers/oauth-client-provider';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from './helpers';
import { completeInBrowser, signIn, type LegacyUser } from './oauth';

const ADA: LegacyUser = {
  id: 'legacy-ada',
  email: 'ada@example.com',
  first_name: 'Ada',
  last_name: 'Lovelace',
};
const CLIENT = { clientId: 'client_mcp_test', redirectUri: 'http://127.0.0.1:33419/callback' };

/** A client whose "browser" is scripted: it completes the login as `user`. */
const scriptedProvider = (emulator: RunningEmulator, user: LegacyUser) =>
  new MemoryOAuthProvider({
    name: 'v1 SDK test client',
    redirectUrl: 'http://127.0.0.1:33420/callback',
    authorize: (url) => completeInBrowser(emulator, url, user),
  });

const textOf = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0].text;

describe('official MCP SDK clients against /mcp', () => {
  let w: McpWorld;
  let fullToken: string;
  let openidToken: string;

  beforeAll(async () => {
    w = await startWorld();
    fullToken = await signIn(w.emulator, {
      ...CLIENT,
      scope: 'openid profile email',
      resource: w.bridge.mcpUrl,
      user: ADA,
    });
    openidToken = await signIn(w.emulator, {
      ...CLIENT,
      scope: 'openid',
      resource: w.bridge.mcpUrl,
      user: ADA,
    });
  });
  afterAll(() => w.close());

  const adaSub = () => w.emulator.users().find((u) => u.externalId === ADA.id)!.id;

  it('v1 client: whoami returns the caller, with the legacy user id from the WorkOS external id', async () => {
    const client = new V1Client({ name: 'v1-test', version: '1.0.0' });
    await client.connect(
      new V1Transport(new URL(w.bridge.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${fullToken}` } },
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['get_profile', 'whoami']);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(JSON.parse(textOf(result))).toEqual({
        sub: adaSub(),
        legacy_user_id: 'legacy-ada',
        email: 'ada@example.com',
        client_id: CLIENT.clientId,
        scopes: ['openid', 'profile', 'email'],
        roles: [],
        tenant: null,
      });
      const profile = await client.callTool({
        name: 'get_profile',
        arguments: { fields: ['legacy_user_id', 'first_name'] },
      });
      expect(profile.structuredContent).toEqual({ legacy_user_id: 'legacy-ada', first_name: 'Ada' });
    } finally {
      await client.close();
    }
  });

  it('records the WorkOS user id in user_links, so the next instance finds it in the database', async () => {
    const prisma = w.bridge.app.get(PrismaService);
    const link = await prisma.userLink.findUnique({ where: { legacyUserId: 'legacy-ada' } });
    expect(link).toMatchObject({ workosUserId: adaSub(), email: 'ada@example.com', firstName: 'Ada' });
  });

  it('v2 client (2025 handshake): whoami, scoped tool, tools/list filtered by scope', async () => {
    const client = new V2Client({ name: 'v2-test', version: '1.0.0' });
    await client.connect(
      new V2Transport(new URL(w.bridge.mcpUrl), { authProvider: { token: async () => openidToken } }),
    );
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['whoami']);
      const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(me).toMatchObject({ legacy_user_id: 'legacy-ada', scopes: ['openid'] });
      await expect(client.callTool({ name: 'get_profile', arguments: {} })).rejects.toThrow(
        /403|insufficient_scope|scope/i,
      );
    } finally {
      await client.close();
    }
    const full = new V2Client({ name: 'v2-test', version: '1.0.0' });
    await full.connect(
      new V2Transport(new URL(w.bridge.mcpUrl), { authProvider: { token: async () => fullToken } }),
    );
    try {
      const profile = await full.callTool({ name: 'get_profile', arguments: {} });
      expect(profile.structuredContent).toEqual({
        legacy_user_id: 'legacy-ada',
        email: 'ada@example.com',
        first_name: 'Ada',
        last_name: 'Lovelace',
        org_id: null,
      });
    } finally {
      await full.close();
    }
  });

  it('v2 client negotiating the 2026-07-28 revision is served by the SDK handler', async () => {
    const client = new V2Client(
      { name: 'v2-modern', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(
      new V2Transport(new URL(w.bridge.mcpUrl), { authProvider: { token: async () => fullToken } }),
    );
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['get_profile', 'whoami']);
      const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(me.legacy_user_id).toBe('legacy-ada');
    } finally {
      await client.close();
    }
  });

  it.each(['2025-06-18', '2025-11-25', '2025-03-26'])(
    'negotiates protocol version %s and serves calls with it',
    async (version) => {
      const auth = { Authorization: `Bearer ${fullToken}` };
      const init = await request(w.bridge.url)
        .post('/mcp')
        .set({ ...MCP_HEADERS, ...auth })
        .unset('MCP-Protocol-Version')
        .send({
          jsonrpc: '2.0',
          id: 0,
          method: 'initialize',
          params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
        });
      expect(init.status).toBe(200);
      expect(init.body.result.protocolVersion).toBe(version);
      expect(init.body.result.serverInfo).toEqual({ name: 'connect-bridge', version: '0.1.0' });
      expect(init.body.result.capabilities.tools).toBeDefined();
      expect(init.headers['mcp-session-id']).toBeUndefined();
      const call = await request(w.bridge.url)
        .post('/mcp')
        .set({ ...MCP_HEADERS, ...auth, 'MCP-Protocol-Version': version })
        .send(toolCall('whoami', {}, 'req-1'));
      expect(call.status).toBe(200);
      expect(call.body.id).toBe('req-1');
      expect(JSON.parse(call.body.result.content[0].text).legacy_user_id).toBe('legacy-ada');
    },
  );

  it('answers a tools/call the token lacks scopes for with 403 insufficient_scope, naming them', async () => {
    const res = await request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', `Bearer ${openidToken}`)
      .send(toolCall('get_profile', {}, 9));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The tool get_profile requires the scopes: profile email.", ' +
        `scope="openid profile email", resource_metadata="${w.bridge.url}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      error: { code: -32001, message: 'Forbidden: The tool get_profile requires the scopes: profile email.' },
      id: 9,
    });
    // the same in a batch (served by the SDK's handler)
    const batch = await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, 'MCP-Protocol-Version': '2025-03-26' })
      .set('Authorization', `Bearer ${openidToken}`)
      .send([toolCall('whoami', {}, 1), toolCall('get_profile', {}, 2)]);
    expect(batch.status).toBe(403);
  });

  it('answers unknown tools and bad arguments the MCP way', async () => {
    const auth = { Authorization: `Bearer ${fullToken}` };
    const unknown = await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, ...auth })
      .send(toolCall('nope'));
    expect(unknown.status).toBe(200);
    expect(unknown.body.error).toEqual({ code: -32602, message: 'Unknown tool: nope' });
    const bad = await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, ...auth })
      .send(toolCall('get_profile', { fields: ['password'] }));
    expect(bad.status).toBe(200);
    expect(bad.body.result.isError).toBe(true);
    expect(bad.body.result.content[0].text).toMatch(/^Invalid arguments for tool get_profile/);
  });

  it('keeps serving known callers when AuthKit and WorkOS are gone (no network on the hot path)', async () => {
    const auth = { Authorization: `Bearer ${fullToken}` };
    await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, ...auth })
      .send(toolCall('whoami'))
      .expect(200);
    await w.emulator.close();
    const res = await request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, ...auth })
      .send(toolCall('whoami'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.result.content[0].text).legacy_user_id).toBe('legacy-ada');
  });
});

describe('step-up authorization with the v1 client', () => {
  let w: McpWorld;

  beforeAll(async () => {
    // Ask for openid only up front, so that the scoped tool needs a step-up.
    w = await startWorld({ MCP_SCOPES: 'openid' });
  });
  afterAll(() => w.close());

  it('discovers, registers, authorizes, then steps up from a 403 to the scopes the tool needs', async () => {
    const provider = scriptedProvider(w.emulator, {
      id: 'legacy-grace',
      email: 'grace@example.com',
      first_name: 'Grace',
    });
    const first = new V1Transport(new URL(w.bridge.mcpUrl), { authProvider: provider });
    await expect(new V1Client({ name: 'v1', version: '1' }).connect(first)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(provider.authorizations).toHaveLength(1);
    const initial = provider.authorizations[0];
    expect(initial.searchParams.get('scope')).toBe('openid');
    expect(initial.searchParams.get('resource')).toBe(w.bridge.mcpUrl);
    await first.finishAuth(provider.code!);

    const transport = new V1Transport(new URL(w.bridge.mcpUrl), { authProvider: provider });
    const client = new V1Client({ name: 'v1', version: '1' });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['whoami']);
      await expect(client.callTool({ name: 'get_profile', arguments: {} })).rejects.toBeInstanceOf(
        UnauthorizedError,
      );
      expect(provider.authorizations).toHaveLength(2);
      expect(provider.authorizations[1].searchParams.get('scope')).toBe('openid profile email');
      await transport.finishAuth(provider.code!);
      const profile = await client.callTool({ name: 'get_profile', arguments: {} });
      expect(profile.structuredContent).toMatchObject({
        legacy_user_id: 'legacy-grace',
        email: 'grace@example.com',
      });
      const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(me.scopes).toEqual(['openid', 'profile', 'email']);
    } finally {
      await client.close();
    }
  });
});

describe('identity from the user link the login bridge recorded', () => {
  it('keeps the legacy details the bridge recorded and fills in the WorkOS user id', async () => {
    const w = await startWorld();
    try {
      const prisma = w.bridge.app.get(PrismaService);
      await prisma.userLink.create({
        data: {
          legacyUserId: 'legacy-bob',
          email: 'bob@legacy.example',
          firstName: 'Robert',
          lastName: 'Tables',
        },
      });
      const token = await signIn(w.emulator, {
        ...CLIENT,
        scope: 'openid profile email',
        resource: w.bridge.mcpUrl,
        user: { id: 'legacy-bob', email: 'bob@legacy.example', first_name: 'Bob' },
      });
      const res = await request(w.bridge.url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', `Bearer ${token}`)
        .send(toolCall('get_profile'));
      expect(res.body.result.structuredContent).toMatchObject({
        legacy_user_id: 'legacy-bob',
        first_name: 'Robert',
        last_name: 'Tables',
      });
      const sub = w.emulator.users().find((u) => u.externalId === 'legacy-bob')!.id;
      expect(await prisma.userLink.findUnique({ where: { legacyUserId: 'legacy-bob' } })).toMatchObject({
        workosUserId: sub,
        firstName: 'Robert',
      });

      // With the in-memory caches emptied and WorkOS gone, the link in the database answers.
      w.bridge.app.get(IdentityService).forget();
      w.bridge.app.get(McpAuthService).clear();
      await w.emulator.close();
      const again = await request(w.bridge.url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', `Bearer ${token}`)
        .send(toolCall('whoami'));
      expect(JSON.parse(again.body.result.content[0].text)).toMatchObject({
        sub,
        legacy_user_id: 'legacy-bob',
        email: 'bob@legacy.example',
      });
    } finally {
      await w.close();
    }
  });
});
