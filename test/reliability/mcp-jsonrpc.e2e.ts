/**
 * JSON-RPC on /mcp under hostile bodies: malformed JSON, valid JSON that is no JSON-RPC, random
 * messages (property-based), batch abuse, unknown methods. Every answer is a JSON-RPC error
 * (never the service's `{"error":{…}}` shape, never a 5xx), after the Origin and token checks.
 */
import fc from 'fast-check';
import request from 'supertest';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from '../mcp/helpers';
import { MCP_PATH_SPELLINGS, rawRequest } from '../mcp/raw-http';

interface RpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/** The JSON-RPC messages of an answer: a JSON body, or the `data:` lines of an SSE stream. */
function messagesOf(res: request.Response): RpcMessage[] {
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) {
    return res.text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)) as RpcMessage);
  }
  expect(type).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as RpcMessage | RpcMessage[];
  return Array.isArray(body) ? body : [body];
}

/** A well-formed JSON-RPC 2.0 response: a result or an error with an integer code and a message. */
function expectJsonRpc(message: RpcMessage): void {
  expect(message.jsonrpc).toBe('2.0');
  expect('result' in message !== 'error' in message).toBe(true);
  if (message.error) {
    expect(Number.isInteger(message.error.code)).toBe(true);
    expect(typeof message.error.message).toBe('string');
  }
  expect(['string', 'number'].includes(typeof message.id) || message.id === null).toBe(true);
}

describe('/mcp answers hostile JSON-RPC with JSON-RPC', () => {
  let w: McpWorld;
  let auth: string;

  beforeAll(async () => {
    w = await startWorld({ LOG_LEVEL: 'silent' });
    auth = `Bearer ${await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl })}`;
  });
  afterAll(() => w.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    request(w.bridge.url)
      .post('/mcp')
      .set({ ...MCP_HEADERS, Authorization: auth, ...headers })
      .timeout(5000) // a request the server never answers fails here, not at Jest's 30 s
      .send(body);

  it.each([
    ['truncated', '{bad'],
    ['unterminated', '{"jsonrpc":"2.0",'],
    ['single quotes', "{'jsonrpc':'2.0'}"],
    ['a NUL byte', '\u0000'],
    ['trailing garbage', '{"a":1}}'],
    ['unbalanced nesting 100,000 deep', '['.repeat(100_000)],
  ])('answers a malformed body (%s) with a -32700 parse error', async (_what, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      error: { code: -32700, message: 'Parse error: the body is not valid JSON.' },
      id: null,
    });
  });

  it('answers valid JSON nested 100,000 deep with a JSON-RPC error, not a stack overflow', async () => {
    const res = await post(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 }, id: null });
  });

  it.each(['123', '"tools/list"', 'null', 'true'])(
    'answers the JSON %s (no object, no batch) with -32600',
    async (body) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 }, id: null });
    },
  );

  it('checks the Origin and the token before it looks at the body', async () => {
    const noToken = await post('{bad', { Authorization: '' });
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toMatch(/^Bearer resource_metadata=/);
    expect(noToken.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: null });
    const badOrigin = await post('{bad', { Origin: 'https://evil.example.com' });
    expect(badOrigin.status).toBe(403);
    expect(badOrigin.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });

  it('gives every spelling of /mcp either a 404 or the same Origin refusal as /mcp (never CORS, never an answer)', async () => {
    const refusal = {
      jsonrpc: '2.0',
      error: { code: -32000, message: 'Forbidden: this origin may not call the MCP endpoint.' },
      id: null,
    };
    const hex = (c: string, upper: boolean) => {
      const h = c.charCodeAt(0).toString(16);
      return `%${upper ? h.toUpperCase() : h}`;
    };
    // Each letter of "mcp" as is, upper case or percent-encoded; 1-3 leading slashes; dot
    // segments; suffixes a lenient router, a proxy or a decoder may ignore.
    const letter = (c: string) =>
      fc.constantFrom(c, c.toUpperCase(), hex(c, false), hex(c, true), hex(c.toUpperCase(), true));
    const spelling = fc
      .tuple(
        fc.constantFrom('/', '//', '///', '/./', '/x/../', '/%2f', '\\', '/\\'),
        letter('m'),
        letter('c'),
        letter('p'),
        fc.constantFrom('', '/', '//', '/.', '.', ';', ';x', '%2f', '%00', '%20', '?x=1', '#x', '\\', '/?x'),
      )
      .map((parts) => parts.join(''));
    const paths = fc.oneof(fc.constantFrom('/mcp', ...MCP_PATH_SPELLINGS), spelling);
    await fc.assert(
      fc.asyncProperty(paths, fc.constantFrom('POST', 'GET', 'DELETE', 'OPTIONS'), async (path, method) => {
        const res = await rawRequest(w.bridge.url, method, path, {
          headers: {
            ...MCP_HEADERS,
            Authorization: auth,
            Origin: 'https://evil.example.com',
            'Access-Control-Request-Method': 'POST',
          },
          body: method === 'POST' ? JSON.stringify(toolCall('whoami')) : undefined,
        });
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.text).not.toContain('"result"');
        if (res.status === 400) {
          // A request target Node's HTTP parser refuses (`\mcp`): it never reaches the app.
          expect({ path, text: res.text }).toEqual({ path, text: '' });
        } else if (res.status !== 404) {
          expect({ path, method, status: res.status }).toEqual({ path, method, status: 403 });
          expect(JSON.parse(res.text)).toEqual(refusal);
        }
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['Mcp-Method naming another method', { 'Mcp-Method': 'tools/list' }],
    ['Mcp-Method with a different case', { 'Mcp-Method': 'Tools/Call' }],
    ['Mcp-Name naming another tool', { 'Mcp-Name': 'get_profile' }],
    ['Mcp-Name with a broken Base64 sentinel', { 'Mcp-Name': '=?base64?@@@?=' }],
    ['Mcp-Param-* with a broken Base64 sentinel', { 'Mcp-Param-Region': '=?base64?e===?=' }],
  ])(
    'refuses a request whose headers disagree with its body (%s) with 400 -32020',
    async (_what, headers) => {
      const res = await post(JSON.stringify(toolCall('whoami', {}, 'h-1')), headers);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 'h-1', error: { code: -32020 } });
      expect(res.body.error.message).toMatch(/^Bad Request: the request headers and body disagree: /);
    },
  );

  it('accepts standard headers that agree with the body (OWS and the Base64 sentinel as the SDK reads them)', async () => {
    const res = await post(JSON.stringify(toolCall('whoami', {}, 'h-2')), {
      'Mcp-Method': ' tools/call\t',
      'Mcp-Name': `=?base64?${Buffer.from('whoami').toString('base64')}?=`,
    });
    expect(res.status).toBe(200);
    expect(messagesOf(res)[0]).toMatchObject({ id: 'h-2', result: {} });
  });

  it('answers random Mcp-* header values without a 5xx, always in JSON-RPC', async () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      fc.constantFrom('tools/call', 'whoami', '=?base64??=', '=?base64?d2hvYW1p?=', '=?base64?', '?='),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { 'Mcp-Method': value, 'Mcp-Name': value, 'MCP-Protocol-Version': value, 'Mcp-Param-A': value },
          { requiredKeys: [] },
        ),
        async (headers) => {
          const res = await post(JSON.stringify(toolCall('whoami', {}, 'r')), headers);
          expect(res.status).toBeLessThan(500);
          for (const m of messagesOf(res)) expectJsonRpc(m);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers a body over 1 MB with 413 and a JSON-RPC error', async () => {
    const res = await post(JSON.stringify({ ...toolCall('whoami'), pad: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 }, id: null });
  });

  it('answers unknown methods with -32601 and bad params with -32602, echoing the id', async () => {
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 'x-1', method: 'admin/shutdown' }));
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ jsonrpc: '2.0', id: 'x-1', error: { code: -32601 } });
    const badParams = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'whoami', arguments: 'x' },
      }),
    );
    expect(badParams.body).toMatchObject({ jsonrpc: '2.0', id: 9, error: { code: -32602 } });
    const unknownTool = await post(JSON.stringify(toolCall('rm_rf', {}, 10)));
    expect(messagesOf(unknownTool)[0]).toMatchObject({ id: 10 });
  });

  it.each([
    ['an extra top-level key', '{"jsonrpc":"2.0","id":1,"method":"tools/list","extra":1}'],
    ['a "constructor" key', '{"jsonrpc":"2.0","id":1,"method":"tools/list","constructor":{"prototype":{}}}'],
    ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}'],
  ])('answers a message with %s (the SDK server would drop it unanswered)', async (_what, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
  });

  it('does not let "__proto__" in a body reach any object prototype', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"tools/list","__proto__":{"polluted":true}}');
    expect(res.status).toBeLessThan(500);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('answers random JSON values and random JSON-RPC-like messages without a 5xx, always in JSON-RPC', async () => {
    const id = fc.oneof(
      fc.integer(),
      fc.string({ maxLength: 20 }),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 1 }),
    );
    const method = fc.oneof(
      fc.constantFrom(
        'initialize',
        'ping',
        'tools/list',
        'tools/call',
        'resources/list',
        'notifications/initialized',
      ),
      fc.string({ maxLength: 30 }),
    );
    const params = fc.oneof(
      fc.constant(undefined),
      fc.record({
        name: fc.constantFrom('whoami', 'get_profile', ''),
        arguments: fc.jsonValue({ maxDepth: 2 }),
      }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const message = fc.record(
      { jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue({ maxDepth: 1 })), id, method, params },
      { requiredKeys: ['jsonrpc', 'method'] },
    );
    const body = fc.oneof(
      { arbitrary: message, weight: 4 },
      { arbitrary: fc.array(message, { maxLength: 5 }), weight: 1 },
      { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const res = await post(JSON.stringify(value));
        expect(res.status).toBeLessThan(500);
        if (res.status === 202) return expect(res.text).toBe(''); // notifications only
        expect(res.text).not.toMatch(/^\{"error":\{"code":"/); // never the service's REST error shape
        for (const m of messagesOf(res)) expectJsonRpc(m);
      }),
      { numRuns: 300 },
    );
  });

  describe('batch abuse', () => {
    const whoamiBatch = (n: number) =>
      JSON.stringify(Array.from({ length: n }, (_, i) => toolCall('whoami', {}, i + 1)));

    it('answers an empty batch and nested batches with -32600', async () => {
      for (const body of ['[]', '[[]]', JSON.stringify([[toolCall('whoami')]])]) {
        const res = await post(body);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 }, id: null });
      }
    });

    it('answers a batch of notifications only with 202 and no body', async () => {
      const res = await post(JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/initialized' }]));
      expect(res.status).toBeLessThan(300);
    });

    it('answers every call of a batch of up to 100, and refuses larger ones at once (no amplification)', async () => {
      const small = await post(whoamiBatch(5));
      expect(small.status).toBe(200);
      const answers = messagesOf(small);
      expect(answers.map((m) => m.id).sort()).toEqual([1, 2, 3, 4, 5]);
      answers.forEach(expectJsonRpc);
      const full = await post(whoamiBatch(100));
      expect(messagesOf(full)).toHaveLength(100);
      for (const n of [101, 10_000]) {
        const started = Date.now();
        const res = await post(whoamiBatch(n));
        expect(Date.now() - started).toBeLessThan(3000);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 }, id: null });
      }
    });

    it('refuses a batch that carries a tools/call the token lacks scopes for, as a whole (403)', async () => {
      const narrow = `Bearer ${await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl, scope: 'openid' })}`;
      const res = await post(JSON.stringify([toolCall('whoami', {}, 1), toolCall('get_profile', {}, 2)]), {
        Authorization: narrow,
      });
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    });
  });
});
