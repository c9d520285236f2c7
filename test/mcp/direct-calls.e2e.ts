/**
 * A plain tools/call of a registered tool is answered from the tool registry without building
 * an SDK Server for the request (the hot path, see McpEndpointService.callTool). These tests hold
 * that shortcut to the SDK: for every kind of call, the HTTP answer is byte for byte what the
 * SDK's own Server answers for the same message and caller, and the shortcut really is taken.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import request from 'supertest';
import { z } from 'zod';
import { McpToolError, McpToolRegistry } from '../../src/mcp';
import { McpAuthService } from '../../src/mcp/auth/mcp-auth.service';
import { ExchangeTransport } from '../../src/mcp/protocol/exchange.transport';
import { McpServerFactory } from '../../src/mcp/protocol/mcp-server.factory';
import { MCP_HEADERS, startWorld, type McpWorld } from './helpers';

describe('tools/call answered from the registry', () => {
  let w: McpWorld;
  let authorization: string;
  let factory: McpServerFactory;
  /** How long the `waits` tool waited for its abort, per call. */
  const aborted: number[] = [];

  beforeAll(async () => {
    w = await startWorld({ LOG_LEVEL: 'warn' });
    const tools = w.bridge.app.get(McpToolRegistry);
    tools.register(
      { name: 'echo', description: 'Echoes text.', inputSchema: z.object({ text: z.string().max(10) }) },
      ({ text }) => `echo: ${text}`,
    );
    tools.register(
      {
        name: 'structured',
        description: 'Returns structured content.',
        outputSchema: z.object({ n: z.number() }),
      },
      () => ({ n: 42 }),
    );
    tools.register({ name: 'refuses', description: 'Refuses politely.' }, () => {
      throw new McpToolError('Not today.');
    });
    tools.register({ name: 'crashes', description: 'Throws.' }, () => {
      throw new Error('boom');
    });
    tools.register({ name: 'bogus', description: 'Returns content the protocol does not know.' }, () => ({
      content: [{ type: 'hologram' }],
    }));
    tools.register({ name: 'context', description: 'Returns its request id.' }, (_input, caller, ctx) =>
      JSON.stringify({ requestId: ctx.requestId, aborted: ctx.signal.aborted, sub: caller.sub }),
    );
    tools.register(
      { name: 'waits', description: 'Waits until its signal is aborted (5 s at most).' },
      (_i, _c, ctx) => {
        const started = Date.now();
        return new Promise<string>((resolve) => {
          // Cleared on abort: a timer left behind would hold the test worker open after the suite.
          const timer = setTimeout(() => resolve('not aborted'), 5000);
          const done = () => {
            clearTimeout(timer);
            aborted.push(Date.now() - started);
            resolve('aborted');
          };
          if (ctx.signal.aborted) return done();
          ctx.signal.addEventListener('abort', done, { once: true });
        });
      },
    );
    tools.register(
      { name: 'admins_only', description: 'Needs the admin role.', roles: ['admin'] },
      () => 'ok',
    );
    tools.register(
      {
        name: 'admins_with_scope',
        description: 'Needs a scope the token lacks, and a role.',
        requiredScopes: ['admin:write'],
        roles: ['admin', 'owner'],
      },
      () => 'ok',
    );
    // A made-up user with no user link: no roles.
    authorization = `Bearer ${await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl })}`;
    factory = w.bridge.app.get(McpServerFactory);
  });
  afterAll(() => w.close());

  /** What the SDK's own Server answers for this message and the token's caller. */
  async function sdkAnswer(message: JSONRPCMessage): Promise<string> {
    const caller = await w.bridge.app.get(McpAuthService).authenticate(authorization);
    const server = factory.create(caller);
    const answer = new Promise<JSONRPCMessage>((resolve) => {
      const transport = new ExchangeTransport(resolve);
      void server.connect(transport).then(() => transport.deliver(message));
    });
    const text = JSON.stringify(await answer);
    await server.close();
    return text;
  }

  const post = (body: unknown) =>
    request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Accept', 'application/json')
      .set('Authorization', authorization)
      .send(body as object);

  const call = (params: Record<string, unknown>, id: string | number = 7): JSONRPCMessage =>
    ({ jsonrpc: '2.0', id, method: 'tools/call', params }) as JSONRPCMessage;

  const direct: Array<[string, JSONRPCMessage]> = [
    ['whoami without arguments', call({ name: 'whoami' })],
    ['whoami with a string id', call({ name: 'whoami', arguments: {} }, 'req-1')],
    ['valid arguments', call({ name: 'echo', arguments: { text: 'hi' } })],
    ['arguments the schema refuses', call({ name: 'echo', arguments: { text: 'far too long for it' } })],
    ['missing arguments', call({ name: 'echo' })],
    ['structured content', call({ name: 'structured' })],
    ['a tool refusing with McpToolError', call({ name: 'refuses' })],
    ['a tool throwing', call({ name: 'crashes' })],
    ['a result the protocol does not know', call({ name: 'bogus' })],
    [
      'a _meta with a progress token',
      call({ name: 'echo', arguments: { text: 'x' }, _meta: { progressToken: 3 } }),
    ],
    ['the request id reaching the tool', call({ name: 'context' }, 99)],
    ['a tool needing a role the caller lacks', call({ name: 'admins_only' })],
    [
      'a tool needing a role and a scope the caller lacks (no 403: re-authorizing gives no role)',
      call({ name: 'admins_with_scope', arguments: {} }, 'r-2'),
    ],
  ];

  it.each(direct)('%s: answers what the SDK answers, without an SDK Server', async (_what, message) => {
    const create = jest.spyOn(factory, 'create');
    try {
      const res = await post(message);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(create).not.toHaveBeenCalled();
      create.mockRestore();
      expect(res.text).toBe(await sdkAnswer(message));
    } finally {
      create.mockRestore();
    }
  });

  it("aborts a tool's signal when the client goes away before the answer", async () => {
    const { request: httpRequest } = await import('node:http');
    const url = new URL(w.bridge.mcpUrl);
    const body = JSON.stringify(call({ name: 'waits' }));
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: '/mcp',
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: authorization, 'Content-Length': Buffer.byteLength(body) },
    });
    req.on('error', () => undefined);
    req.end(body);
    await new Promise((r) => setTimeout(r, 300));
    req.destroy();
    const until = Date.now() + 4000;
    while (aborted.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toBeLessThan(2000);
  });

  it('refuses a caller without the role with an error result naming the roles, on both paths', async () => {
    const res = await post(call({ name: 'admins_with_scope' }, 5));
    expect(res.status).toBe(200);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      id: 5,
      result: {
        content: [{ type: 'text', text: 'This tool needs one of the roles: admin, owner. You have none.' }],
        isError: true,
      },
    });
    // A batch goes through the SDK's HTTP handler: the same result for the same call.
    const batch = await request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', authorization)
      .send([call({ name: 'admins_with_scope' }, 5)]);
    expect(batch.status).toBe(200);
    expect(batch.headers['www-authenticate']).toBeUndefined();
    const answers = batch.headers['content-type']?.startsWith('text/event-stream')
      ? batch.text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)) as unknown)
      : (batch.body as unknown[]);
    expect(answers).toEqual([res.body]);
    // Nor does tools/list show either tool to this caller.
    const list = await post({ jsonrpc: '2.0', id: 6, method: 'tools/list' });
    const names = (list.body as { result: { tools: Array<{ name: string }> } }).result.tools.map(
      (t) => t.name,
    );
    expect(names).toContain('echo');
    expect(names).not.toContain('admins_only');
    expect(names).not.toContain('admins_with_scope');
    expect(names).not.toContain('admin_overview');
  });

  const viaSdk: Array<[string, JSONRPCMessage]> = [
    ['an unknown tool', call({ name: 'nope' })],
    ['arguments that are not an object', call({ name: 'echo', arguments: ['hi'] })],
  ];

  it.each(viaSdk)('%s: left to the SDK Server, which answers it', async (_what, message) => {
    const create = jest.spyOn(factory, 'create');
    try {
      const res = await post(message);
      expect(res.status).toBe(200);
      expect(create).toHaveBeenCalledTimes(1);
      create.mockRestore();
      expect(res.text).toBe(await sdkAnswer(message));
      expect(JSON.parse(res.text)).toHaveProperty('error');
    } finally {
      create.mockRestore();
    }
  });
});
