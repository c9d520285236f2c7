import request from 'supertest';
import { Clock } from '../../src/mcp/clock';
import { createTestDatabase } from '../helpers/database';
import { freePort, MCP_HEADERS, startBridge, startWorld, toolCall, type McpWorld } from './helpers';

const PRM = (url: string) => `${url}/.well-known/oauth-protected-resource/mcp`;

describe('/mcp refuses every bad token with a 401 and the right challenge', () => {
  let w: McpWorld;
  let url: string;
  let aud: string;

  beforeAll(async () => {
    w = await startWorld();
    url = w.bridge.url;
    aud = w.bridge.mcpUrl;
  });
  afterAll(() => w.close());

  const call = (authorization?: string, body: unknown = toolCall('whoami', {}, 41)) => {
    const r = request(url).post('/mcp').set(MCP_HEADERS);
    if (authorization !== undefined) r.set('Authorization', authorization);
    return r.send(body as object);
  };
  const invalid = (description: string) =>
    `Bearer error="invalid_token", error_description="${description}", resource_metadata="${PRM(url)}", scope="openid profile email"`;

  it('answers no token with 401, resource_metadata and scope, and no error code', async () => {
    const res = await call();
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${PRM(url)}", scope="openid profile email"`,
    );
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      error: { code: -32001, message: 'Unauthorized: No access token was sent.' },
      id: 41,
    });
  });

  it('accepts a valid token (the control case)', async () => {
    const res = await call(`Bearer ${await w.emulator.mintAccessToken({ aud })}`);
    expect(res.status).toBe(200);
  });

  const cases: Array<[string, () => Promise<string>, string]> = [
    ['a malformed token', async () => 'Bearer not-a-jwt', 'The access token is malformed.'],
    [
      'another scheme',
      async () => 'Basic dXNlcjpwYXNz',
      'The Authorization header must carry a Bearer token.',
    ],
    [
      'alg none',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { alg: 'none' })}`,
      'The access token is signed with an algorithm that is not accepted.',
    ],
    [
      'HS256 signed with the public key',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { alg: 'HS256' })}`,
      'The access token is signed with an algorithm that is not accepted.',
    ],
    [
      'RS384',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { alg: 'RS384' })}`,
      'The access token is signed with an algorithm that is not accepted.',
    ],
    [
      'ES256',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { alg: 'ES256' })}`,
      'The access token is signed with an algorithm that is not accepted.',
    ],
    [
      'an expired token',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { expiresInSeconds: -120 })}`,
      'The access token has expired.',
    ],
    [
      'a token not valid yet (nbf)',
      async () =>
        `Bearer ${await w.emulator.mintAccessToken({ aud, nbf: Math.floor(Date.now() / 1000) + 600 })}`,
      'The access token is not valid yet.',
    ],
    [
      'a token issued in the future (iat)',
      async () => {
        const iat = Math.floor(Date.now() / 1000) + 600;
        return `Bearer ${await w.emulator.mintAccessToken({ aud, iat, exp: iat + 300 })}`;
      },
      'The access token is not valid yet.',
    ],
    [
      'the wrong issuer (a trailing slash)',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud, iss: `${w.emulator.issuer}/` })}`,
      'The access token was not issued by the expected authorization server.',
    ],
    [
      'the audience AuthKit uses without a resource indicator (the client id)',
      async () => `Bearer ${await w.emulator.mintAccessToken()}`,
      'The access token was not issued for this resource.',
    ],
    [
      'a token for another resource',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud: 'https://other.example.com/mcp' })}`,
      'The access token was not issued for this resource.',
    ],
    [
      'an unknown kid (a key AuthKit never published)',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud }, { key: 'unknown' })}`,
      'The access token is signed with an unknown key.',
    ],
    [
      'a token without sub',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud, sub: undefined })}`,
      'The access token lacks required claims.',
    ],
    [
      'an oversized token',
      async () => `Bearer ${await w.emulator.mintAccessToken({ aud, padding: 'x'.repeat(9000) })}`,
      'The access token is too large.',
    ],
  ];

  it.each(cases)('refuses %s', async (_what, header, description) => {
    const res = await call(await header());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(invalid(description));
    expect(res.body).toEqual({
      jsonrpc: '2.0',
      error: { code: -32001, message: `Unauthorized: ${description}` },
      id: 41,
    });
  });

  it('refuses bad tokens on GET and DELETE too, and never with a 5xx on hostile bodies', async () => {
    expect((await request(url).get('/mcp').set('Accept', 'text/event-stream')).status).toBe(401);
    expect((await request(url).delete('/mcp')).status).toBe(401);
    for (const body of ['[]', '{}', 'null', '"x"', '[{"jsonrpc":"2.0"}]', '{"jsonrpc":"2.0","method":1}']) {
      const res = await request(url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', 'Bearer x.y.z')
        .send(body);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('never writes a token to the log', async () => {
    const token = await w.emulator.mintAccessToken({ aud });
    await call(`Bearer ${token}`);
    await call(`Bearer ${token}x`);
    const signature = token.split('.')[2];
    expect(w.bridge.logs.text).not.toContain(signature);
    expect(w.bridge.logs.text).toContain('/mcp');
  });

  describe('after AuthKit rotates its keys', () => {
    it('accepts the new kid (refetching at most once per cooldown) and still the previous key in its grace period', async () => {
      const before = await w.emulator.mintAccessToken({ aud });
      expect((await call(`Bearer ${before}`)).status).toBe(200);
      await w.emulator.rotateKeys({ graceSeconds: 300 });
      const after = await w.emulator.mintAccessToken({ aud, jti: 'after-rotation' });
      const clock = w.bridge.app.get(Clock);
      const spy = jest.spyOn(clock, 'now').mockImplementation(() => Date.now() + 31_000);
      try {
        const res = await call(`Bearer ${after}`);
        expect(res.status).toBe(200);
        const old = await w.emulator.mintAccessToken({ aud, jti: 'old-key' }, { key: 'previous' });
        expect((await call(`Bearer ${old}`)).status).toBe(200);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('HTTP methods and media types', () => {
    let token: string;
    beforeAll(async () => {
      token = await w.emulator.mintAccessToken({ aud });
    });

    it('answers GET and DELETE with 405 (stateless: no stream, no session)', async () => {
      for (const method of ['get', 'delete'] as const) {
        const res = await request(url)[method]('/mcp').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(405);
        expect(res.headers.allow).toBe('POST');
        expect(res.body.error.code).toBe(-32000);
      }
    });

    it('answers other methods with 405', async () => {
      const res = await request(url).put('/mcp').set('Authorization', `Bearer ${token}`).send({});
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, POST, DELETE, OPTIONS');
    });

    it('answers a non-JSON body with 415', async () => {
      const res = await request(url)
        .post('/mcp')
        .set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'text/plain')
        .send('hello');
      expect(res.status).toBe(415);
    });

    it('answers an unsupported protocol version with 400 (the SDK decides)', async () => {
      const res = await request(url)
        .post('/mcp')
        .set({ ...MCP_HEADERS, 'MCP-Protocol-Version': '1999-01-01' })
        .set('Authorization', `Bearer ${token}`)
        .send(toolCall('whoami'));
      expect(res.status).toBe(400);
      expect(res.body.jsonrpc).toBe('2.0');
    });

    it('answers a notification with 202 and no body', async () => {
      const res = await request(url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', `Bearer ${token}`)
        .send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(res.status).toBe(202);
      expect(res.text).toBe('');
    });
  });
});

describe('/mcp when AuthKit cannot be reached', () => {
  it('answers 503 (not 401) while no key set was ever fetched, and /readyz says why', async () => {
    const deadPort = await freePort();
    const db = await createTestDatabase();
    const fakeEmulator = {
      apiKey: 'sk_test_dead',
      clientId: 'client_dead',
      url: `http://127.0.0.1:${deadPort}`,
      issuer: `http://127.0.0.1:${deadPort}`,
    } as Parameters<typeof startBridge>[0];
    const admin = 'rejections-suite-admin-token-0123456789';
    const bridge = await startBridge(fakeEmulator, db.database, {
      LOG_LEVEL: 'silent',
      ADMIN_API_TOKEN: admin,
    });
    try {
      const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyXzEifQ.c2ln';
      const res = await request(bridge.url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', `Bearer ${token}`)
        .send(toolCall('whoami'));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('10');
      expect(res.headers['www-authenticate']).toBeUndefined();
      // a token that is not even a JWT is still a 401
      const malformed = await request(bridge.url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', 'Bearer junk')
        .send(toolCall('whoami'));
      expect(malformed.status).toBe(401);
      const ready = await request(bridge.url).get('/readyz').set('Authorization', `Bearer ${admin}`);
      expect(ready.status).toBe(503);
      expect(ready.body.error.authkit_metadata).toMatchObject({
        status: 'down',
        message: expect.stringMatching(/oauth-authorization-server failed/),
      });
      expect(ready.body.error.authkit_jwks).toMatchObject({
        status: 'down',
        message: expect.stringMatching(/oauth2\/jwks failed/),
      });
      // the AuthKit metadata route answers in the one error shape
      const meta = await request(bridge.url).get('/.well-known/oauth-authorization-server');
      expect(meta.status).toBe(503);
      expect(meta.body.error).toMatchObject({
        code: 'authkit_unavailable',
        message: 'The authorization server metadata cannot be fetched right now; try again shortly.',
      });
    } finally {
      await bridge.close();
      await db.dispose();
    }
  });
});
