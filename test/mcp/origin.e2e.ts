/**
 * The Origin policy of /mcp (DNS-rebinding defence) cannot be side-stepped by spelling the path
 * differently: routing is strict (one spelling per route), and the Origin check happens where the
 * MCP request is handled, not in a middleware that compares path strings. Every other spelling
 * of /mcp is a 404 that carries no CORS grant.
 */
import request from 'supertest';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from './helpers';
import { MCP_PATH_SPELLINGS, rawRequest } from './raw-http';

const ALLOWED = 'http://localhost:6274';
const EVIL = 'https://evil.example.com';
const REFUSAL = {
  jsonrpc: '2.0',
  error: { code: -32000, message: 'Forbidden: this origin may not call the MCP endpoint.' },
  id: null,
};

describe('/mcp Origin policy, whatever the path spelling', () => {
  let w: McpWorld;
  let token: string;

  beforeAll(async () => {
    w = await startWorld({ MCP_ALLOWED_ORIGINS: ALLOWED, LOG_LEVEL: 'silent' });
    token = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl });
  });
  afterAll(() => w.close());

  const body = JSON.stringify(toolCall('whoami'));

  it('refuses a foreign Origin on /mcp with 403 (the control case)', async () => {
    for (const method of ['POST', 'GET', 'DELETE', 'OPTIONS', 'PUT']) {
      const res = await rawRequest(w.bridge.url, method, '/mcp', {
        headers: { ...MCP_HEADERS, Origin: EVIL, Authorization: `Bearer ${token}` },
        body: method === 'POST' ? body : undefined,
      });
      expect({ method, status: res.status }).toEqual({ method, status: 403 });
      expect(JSON.parse(res.text)).toEqual(REFUSAL);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it.each(MCP_PATH_SPELLINGS)(
    'answers %j with a 404 and no CORS grant, with or without a foreign Origin',
    async (path) => {
      for (const method of ['POST', 'GET', 'OPTIONS']) {
        for (const origin of [EVIL, undefined]) {
          const res = await rawRequest(w.bridge.url, method, path, {
            headers: {
              ...MCP_HEADERS,
              Authorization: `Bearer ${token}`,
              ...(origin && { Origin: origin, 'Access-Control-Request-Method': 'POST' }),
            },
            body: method === 'POST' ? body : undefined,
          });
          // Either not the MCP endpoint (404), or the MCP endpoint with its Origin refusal.
          if (res.status === 404) {
            expect(res.headers['access-control-allow-origin']).toBeUndefined();
            expect(res.text).not.toContain('"result"');
          } else {
            expect({ path, method, origin, status: res.status }).toEqual({
              path,
              method,
              origin,
              status: origin ? 403 : 404,
            });
            expect(JSON.parse(res.text)).toEqual(REFUSAL);
          }
          expect(res.headers['access-control-allow-origin']).toBeUndefined();
        }
      }
    },
  );

  it('never lets a foreign Origin read an MCP answer through a path variant', async () => {
    for (const path of MCP_PATH_SPELLINGS) {
      const res = await rawRequest(w.bridge.url, 'POST', path, {
        headers: { ...MCP_HEADERS, Origin: EVIL, Authorization: `Bearer ${token}` },
        body,
      });
      expect({ path, result: res.text.includes('"result"') }).toEqual({ path, result: false });
      expect({ path, acao: res.headers['access-control-allow-origin'] }).toEqual({ path, acao: undefined });
    }
  });

  it('still grants CORS to an allowed origin on /mcp, preflight included', async () => {
    const preflight = await request(w.bridge.url)
      .options('/mcp')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(preflight.headers.vary).toBe('Origin');
    const res = await request(w.bridge.url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Origin', ALLOWED)
      .set('Authorization', `Bearer ${token}`)
      .send(toolCall('whoami'));
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('lets an allowed origin send Mcp-Param-* headers (SEP-2243), whatever their names', async () => {
    const preflight = await request(w.bridge.url)
      .options('/mcp')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST')
      .set(
        'Access-Control-Request-Headers',
        'content-type, mcp-param-region, mcp-param-x, x-other, mcp-param-',
      );
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toBe(
      'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID, mcp-param-region, mcp-param-x',
    );
  });

  it('keeps the public documents readable from any origin, on their one spelling only', async () => {
    const doc = await request(w.bridge.url)
      .get('/.well-known/oauth-protected-resource/mcp')
      .set('Origin', EVIL);
    expect(doc.status).toBe(200);
    expect(doc.headers['access-control-allow-origin']).toBe('*');
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp/',
      '/.well-known/OAUTH-protected-resource/mcp',
      '/.well-known/oauth-protected-resource/MCP',
      '/docs/mcp/',
    ]) {
      const res = await rawRequest(w.bridge.url, 'GET', path, { headers: { Origin: EVIL } });
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });
});
