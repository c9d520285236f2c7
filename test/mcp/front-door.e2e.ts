/**
 * The MCP front door (src/mcp/http/mcp-front-door.ts) answers the common POST /mcp before Express
 * sees it. These tests hold it to the Express path: the same request sent once as the front door
 * takes it (`Content-Type: application/json`) and once as it declines it (a Content-Type with
 * another parameter, which express.json reads the same way) gets the same status, body and
 * headers, and the same access line; and the front door really takes the first and not the second.
 */
import { McpFrontDoor } from '../../src/mcp/http/mcp-front-door';
import { MetricsService } from '../../src/metrics/metrics.service';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from './helpers';
import { rawRequest, type RawResponse } from './raw-http';

/** Headers that differ between any two answers (time, request id, the connection's own). */
const VARYING = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

describe('the MCP front door', () => {
  let w: McpWorld;
  let authorization: string;
  const taken: boolean[] = [];

  beforeAll(async () => {
    w = await startWorld({ LOG_LEVEL: 'info', MCP_ALLOWED_ORIGINS: 'https://allowed.example' });
    authorization = `Bearer ${await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl })}`;
    const door = w.bridge.app.get(McpFrontDoor);
    const take = door.take.bind(door);
    jest.spyOn(door, 'take').mockImplementation((req, res) => {
      const answer = take(req, res);
      taken.push(answer);
      return answer;
    });
  });
  afterAll(() => w.close());

  /** The request twice: through the front door, then through Express. */
  async function both(
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ door: RawResponse; express: RawResponse }> {
    const send = async (contentType: string, expectTaken: boolean) => {
      taken.length = 0;
      const res = await rawRequest(w.bridge.url, 'POST', '/mcp', {
        headers: { ...MCP_HEADERS, authorization, ...headers, 'Content-Type': contentType },
        body,
      });
      expect(taken).toEqual([expectTaken]);
      return res;
    };
    const door = await send('application/json', true);
    const express = await send('application/json; profile="x"', false);
    return { door, express };
  }

  const comparable = (res: RawResponse) => ({
    status: res.status,
    text: res.text,
    headers: Object.fromEntries(Object.entries(res.headers).filter(([name]) => !VARYING.has(name))),
  });

  // Three entries in every row: jest-each takes a test function with more parameters than the row
  // has for one that calls `done`.
  const cases: Array<[string, string, Record<string, string>]> = [
    ['a verified tools/call', JSON.stringify(toolCall('whoami')), {}],
    ['tools/list (a fresh SDK Server)', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), {}],
    ['a notification', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), {}],
    ['a batch (the SDK handler)', JSON.stringify([toolCall('whoami', {}, 3)]), {}],
    ['no token', JSON.stringify(toolCall('whoami')), { authorization: '' }],
    ['a forged token', JSON.stringify(toolCall('whoami')), { authorization: 'Bearer abc.def.ghi' }],
    ['a body that is not JSON', '{"jsonrpc": ', {}],
    ['JSON that is not an object', '"tools/call"', {}],
    ['an empty body', '', {}],
    ['a byte-order mark', `\ufeff${JSON.stringify(toolCall('whoami', {}, 4))}`, {}],
    ['a body nested too deeply', `${'['.repeat(100)}${']'.repeat(100)}`, {}],
    ['a foreign Origin', JSON.stringify(toolCall('whoami')), { origin: 'https://evil.example' }],
    ['an allowed Origin', JSON.stringify(toolCall('whoami')), { origin: 'https://allowed.example' }],
    [
      'headers that disagree with the body',
      JSON.stringify(toolCall('whoami')),
      { 'Mcp-Method': 'tools/list' },
    ],
    ['an unknown tool', JSON.stringify(toolCall('no_such_tool')), {}],
    ['a proxy-given request id', JSON.stringify(toolCall('whoami')), { 'X-Request-Id': 'edge-42' }],
  ];

  it.each(cases)('%s: the same answer and headers on both paths', async (_name, body, headers) => {
    const { door, express } = await both(body, headers);
    expect(comparable(door)).toEqual(comparable(express));
    expect(door.headers['content-security-policy']).toBeDefined();
    expect(door.headers['x-request-id']).toBeDefined();
    if (headers['X-Request-Id']) expect(door.headers['x-request-id']).toBe(headers['X-Request-Id']);
  });

  it('writes the same access line on both paths (fields, level, message)', async () => {
    const body = JSON.stringify(toolCall('whoami', {}, 9));
    const before = w.bridge.logs.lines.length;
    const { door, express } = await both(body, {});
    const { door: refused } = await both(body, { authorization: 'Bearer nope' });
    // The lines are written when each response closes: give the last one a moment.
    await new Promise((r) => setTimeout(r, 50));
    const lines = w.bridge.logs.lines
      .slice(before)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.route === '/mcp');
    const byId = (res: RawResponse) => lines.find((l) => l.reqId === res.headers['x-request-id']);
    const strip = (l: Record<string, unknown> | undefined) => {
      const { time: _t, reqId: _r, ms: _m, msg, ...rest } = l ?? {};
      return { ...rest, msg: String(msg).replace(/ \d+ms$/, ' <ms>') };
    };
    expect(byId(door)).toBeDefined();
    expect(strip(byId(door))).toEqual(strip(byId(express)));
    expect(strip(byId(door))).toMatchObject({
      level: 30,
      method: 'POST',
      status: 200,
      msg: 'POST /mcp 200 <ms>',
    });
    expect(Object.keys(byId(door)!).sort()).toEqual(Object.keys(byId(express)!).sort());
    expect(byId(refused)).toMatchObject({ level: 40, status: 401 });
    // Never a header or the token in an access line.
    expect(JSON.stringify(lines)).not.toContain('Bearer');
  });

  it('counts front-door answers in the HTTP metrics like any other /mcp answer', async () => {
    const metrics = w.bridge.app.get(MetricsService);
    const count = async () =>
      (await metrics.httpRequests.get()).values.find(
        (v) => v.labels.route === '/mcp' && v.labels.status === '200' && v.labels.method === 'POST',
      )?.value ?? 0;
    const before = await count();
    await both(JSON.stringify(toolCall('whoami')));
    expect((await count()) - before).toBe(2);
  });

  it('leaves a request with a query string, chunked or compressed to Express', async () => {
    for (const [path, headers] of [
      ['/mcp?x=1', {}],
      ['/mcp', { 'Transfer-Encoding': 'chunked' }],
      ['/mcp', { 'Content-Encoding': 'identity' }],
    ] as Array<[string, Record<string, string>]>) {
      taken.length = 0;
      await rawRequest(w.bridge.url, 'POST', path, {
        headers: { ...MCP_HEADERS, authorization, ...headers },
        body: JSON.stringify(toolCall('whoami')),
      });
      expect(taken).toEqual([false]);
    }
  });
});
