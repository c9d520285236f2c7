import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
  UnauthorizedError as V2UnauthorizedError,
} from '@modelcontextprotocol/client';
import request from 'supertest';
import { createTestDatabase } from '../helpers/database';
import { MemoryOAuthProvider } from '../helpers/oauth-client-provider';
import { MCP_HEADERS, startBridge, startWorld, toolCall, type McpWorld } from './helpers';
import { completeInBrowser } from './oauth';

/**
 * A v2 SDK client that does not add offline_access itself: the SDK adds it (SEP-2207) only when
 * the client metadata lists the refresh_token grant, and this one lists no grant types.
 */
class NoGrantTypesProvider extends MemoryOAuthProvider {
  override get clientMetadata() {
    const { grant_types: _omitted, ...metadata } = super.clientMetadata;
    return metadata as MemoryOAuthProvider['clientMetadata'];
  }
}

const INSPECTOR = 'http://localhost:6274';
/** /readyz shows the details of its checks only with the admin API's token. */
const ADMIN_TOKEN = 'metadata-suite-admin-token-0123456789';

describe('discovery documents, CORS and Origin', () => {
  let w: McpWorld;
  let url: string;

  beforeAll(async () => {
    w = await startWorld({ MCP_ALLOWED_ORIGINS: INSPECTOR, ADMIN_API_TOKEN: ADMIN_TOKEN });
    url = w.bridge.url;
  });
  afterAll(() => w.close());

  const prm = () =>
    JSON.stringify({
      resource: `${url}/mcp`,
      authorization_servers: [w.emulator.issuer],
      scopes_supported: ['openid', 'profile', 'email'],
      bearer_methods_supported: ['header'],
      resource_name: 'connect-bridge',
      resource_documentation: `${url}/docs/mcp`,
    });

  it.each(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])(
    'serves the protected resource metadata at %s, byte for byte',
    async (path) => {
      const res = await request(url).get(path).set('Origin', 'https://anywhere.example');
      expect(res.status).toBe(200);
      expect(res.text).toBe(prm());
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['cache-control']).toBe('public, max-age=300');
      expect(res.headers['access-control-allow-origin']).toBe('*');
    },
  );

  it('never advertises offline_access by default, even when MCP_SCOPES names it', async () => {
    const db = await createTestDatabase();
    const other = await startBridge(w.emulator, db.database, {
      MCP_SCOPES: 'openid offline_access email',
      LOG_LEVEL: 'silent',
    });
    try {
      const res = await request(other.url).get('/.well-known/oauth-protected-resource/mcp');
      expect(res.body.scopes_supported).toEqual(['openid', 'email', 'profile']);
      const challenge = await request(other.url).post('/mcp').set(MCP_HEADERS).send(toolCall('whoami'));
      expect(challenge.headers['www-authenticate']).toContain('scope="openid email"');
      expect(challenge.headers['www-authenticate']).not.toContain('offline_access');
    } finally {
      await other.close();
      await db.dispose();
    }
  });

  describe('with MCP_REQUEST_OFFLINE_ACCESS=true', () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let offline: Awaited<ReturnType<typeof startBridge>>;
    beforeAll(async () => {
      db = await createTestDatabase();
      offline = await startBridge(w.emulator, db.database, {
        MCP_REQUEST_OFFLINE_ACCESS: 'true',
        LOG_LEVEL: 'silent',
      });
    });
    afterAll(async () => {
      await offline?.close();
      await db?.dispose();
    });

    it('asks for offline_access in the 401 challenge and lists it in scopes_supported', async () => {
      for (const path of [
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource',
      ]) {
        const res = await request(offline.url).get(path);
        expect(res.body.scopes_supported).toEqual(['openid', 'profile', 'email', 'offline_access']);
      }
      const challenge = await request(offline.url).post('/mcp').set(MCP_HEADERS).send(toolCall('whoami'));
      expect(challenge.status).toBe(401);
      expect(challenge.headers['www-authenticate']).toBe(
        `Bearer resource_metadata="${offline.url}/.well-known/oauth-protected-resource/mcp", ` +
          'scope="openid profile email offline_access"',
      );
      const refused = await request(offline.url)
        .post('/mcp')
        .set(MCP_HEADERS)
        .set('Authorization', 'Bearer not-a-jwt')
        .send(toolCall('whoami'));
      expect(refused.headers['www-authenticate']).toMatch(
        /^Bearer error="invalid_token", .*, scope="openid profile email offline_access"$/,
      );
    });

    it.each([
      ['on', () => offline, 'openid profile email offline_access', true],
      ['off', () => w.bridge, 'openid profile email', false],
    ])(
      'setting %s: a v2 SDK client that does not ask for offline_access itself gets a refresh token only with it on',
      async (_setting, bridge, scope, refreshable) => {
        const provider = new NoGrantTypesProvider({
          name: 'v2 client without grant types',
          redirectUrl: 'http://127.0.0.1:33421/callback',
          authorize: (url) =>
            completeInBrowser(w.emulator, url, { id: 'legacy-olive', email: 'olive@example.com' }),
        });
        const transport = new V2Transport(new URL(bridge().mcpUrl), { authProvider: provider as never });
        await expect(new V2Client({ name: 'v2', version: '1' }).connect(transport)).rejects.toBeInstanceOf(
          V2UnauthorizedError,
        );
        expect(provider.authorizations).toHaveLength(1);
        expect(provider.authorizations[0].searchParams.get('scope')).toBe(scope);
        await transport.finishAuth(provider.code!);
        expect(Boolean(provider.savedTokens?.refresh_token)).toBe(refreshable);
      },
    );
  });

  it.each(['oauth-authorization-server', 'openid-configuration'])(
    "serves AuthKit's %s document through, unchanged",
    async (doc) => {
      const upstream = await fetch(`${w.emulator.issuer}/.well-known/${doc}`).then((r) => r.text());
      const res = await request(url).get(`/.well-known/${doc}`);
      expect(res.status).toBe(200);
      expect(res.text).toBe(upstream);
      expect(res.body.issuer).toBe(w.emulator.issuer);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    },
  );

  it('answers CORS preflight for the metadata from any origin', async () => {
    const res = await request(url)
      .options('/.well-known/oauth-protected-resource/mcp')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'mcp-protocol-version');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET, OPTIONS');
    expect(res.headers['access-control-allow-headers']).toBe('mcp-protocol-version');
  });

  it('answers CORS preflight on /mcp for an allowed origin', async () => {
    const res = await request(url)
      .options('/mcp')
      .set('Origin', INSPECTOR)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type, mcp-protocol-version');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(INSPECTOR);
    expect(res.headers.vary).toBe('Origin');
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, DELETE, OPTIONS');
    expect(res.headers['access-control-allow-headers']).toBe(
      'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID',
    );
    expect(res.headers['access-control-expose-headers']).toBe(
      'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version',
    );
  });

  it('lets a browser on an allowed origin read the 401 challenge', async () => {
    const res = await request(url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Origin', INSPECTOR)
      .send(toolCall('whoami'));
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(INSPECTOR);
    expect(res.headers['access-control-expose-headers']).toContain('WWW-Authenticate');
  });

  it("accepts the bridge's own origin and requests without Origin", async () => {
    const token = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl });
    const own = await request(url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Origin', url)
      .set('Authorization', `Bearer ${token}`)
      .send(toolCall('whoami'));
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBe(url);
    const none = await request(url)
      .post('/mcp')
      .set(MCP_HEADERS)
      .set('Authorization', `Bearer ${token}`)
      .send(toolCall('whoami'));
    expect(none.status).toBe(200);
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });

  it.each([
    'https://evil.example.com',
    'null',
    'http://localhost:6275',
    `${INSPECTOR}.evil.com`,
    'not a url',
  ])('refuses the origin %j with 403 before looking at the token (DNS rebinding)', async (origin) => {
    const token = await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl });
    for (const auth of [undefined, `Bearer ${token}`]) {
      const req = request(url).post('/mcp').set(MCP_HEADERS).set('Origin', origin);
      if (auth) req.set('Authorization', auth);
      const res = await req.send(toolCall('whoami'));
      expect(res.status).toBe(403);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.body).toEqual({
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Forbidden: this origin may not call the MCP endpoint.' },
        id: null,
      });
    }
    const preflight = await request(url)
      .options('/mcp')
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(403);
  });

  it('takes its public URL from PUBLIC_URL only, never from Host or X-Forwarded-* headers', async () => {
    const spoof = {
      Host: 'evil.example.com',
      'X-Forwarded-Host': 'evil.example.com',
      'X-Forwarded-Proto': 'https',
    };
    const doc = await request(url).get('/.well-known/oauth-protected-resource/mcp').set(spoof);
    expect(doc.text).toBe(prm());
    const challenge = await request(url).post('/mcp').set(MCP_HEADERS).set(spoof).send(toolCall('whoami'));
    expect(challenge.headers['www-authenticate']).toContain(
      `resource_metadata="${url}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(challenge.headers['www-authenticate']).not.toContain('evil');
  });

  it('serves a page for people at the documentation link', async () => {
    const res = await request(url).get('/docs/mcp');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain(`${url}/mcp`);
    expect(res.text).toContain('<code>whoami</code>');
    expect(res.text).toContain('scopes: profile email');
  });

  it('reports AuthKit metadata and keys in /readyz', async () => {
    const res = await request(url).get('/readyz').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ database: 'up', authkit_metadata: 'up', authkit_jwks: 'up' });
    expect(res.body.details.authkit_metadata).toEqual({ status: 'up', issuer: w.emulator.issuer });
    expect(res.body.details.authkit_jwks).toMatchObject({ status: 'up', keys: 1 });
  });
});
