import { loadConfig } from '../config/app-config';
import { mcpSettingsFrom, withOfflineAccess } from './mcp-settings';

describe('mcpSettingsFrom', () => {
  const production = {
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://bridge.example.com/',
    WORKOS_API_KEY: 'sk_live_1',
    WORKOS_CLIENT_ID: 'client_1',
    AUTHKIT_DOMAIN: 'https://acme.authkit.app',
    SESSION_SECRET: 'x'.repeat(40),
    DATABASE_URL: 'postgresql://bridge@db.internal:5432/bridge',
  };

  it('derives the resource, its metadata URL and the JWKS URL from PUBLIC_URL and AUTHKIT_DOMAIN', () => {
    const s = mcpSettingsFrom(loadConfig(production));
    expect(s).toMatchObject({
      resourceUrl: 'https://bridge.example.com/mcp',
      resourceMetadataUrl: 'https://bridge.example.com/.well-known/oauth-protected-resource/mcp',
      issuer: 'https://acme.authkit.app',
      jwksUrl: 'https://acme.authkit.app/oauth2/jwks',
      audiences: ['https://bridge.example.com/mcp'],
      challengeScopes: ['openid', 'profile', 'email'],
      requestOfflineAccess: false,
      resourceName: 'connect-bridge',
      documentationUrl: 'https://bridge.example.com/docs/mcp',
      allowedOrigins: [],
    });
    expect(s.upstream).toBeUndefined();
  });

  it('reads the MCP_* settings, dropping offline_access from the challenge', () => {
    const s = mcpSettingsFrom(
      loadConfig({
        ...production,
        MCP_SCOPES: 'openid offline_access, invoices:read',
        MCP_ALLOWED_ORIGINS: 'https://app.example.com',
        MCP_RESOURCE_NAME: 'Acme tools',
        MCP_DOCUMENTATION_URL: 'https://docs.example.com/mcp',
        MCP_UPSTREAM_URL: 'https://tools.internal.example.com/mcp',
        MCP_UPSTREAM_SECRET: 's'.repeat(32),
      }),
    );
    expect(s.challengeScopes).toEqual(['openid', 'invoices:read']);
    expect(s.allowedOrigins).toEqual(['https://app.example.com']);
    expect(s.resourceName).toBe('Acme tools');
    expect(s.documentationUrl).toBe('https://docs.example.com/mcp');
    expect(s.upstream).toEqual({
      url: 'https://tools.internal.example.com/mcp',
      secret: 's'.repeat(32),
      toolScopes: new Map(),
    });
  });

  it('reads MCP_UPSTREAM_TOOL_SCOPES into a map of tool name to scopes', () => {
    const s = mcpSettingsFrom(
      loadConfig({
        ...production,
        MCP_UPSTREAM_URL: 'https://tools.internal.example.com/mcp',
        MCP_UPSTREAM_SECRET: 's'.repeat(32),
        MCP_UPSTREAM_TOOL_SCOPES:
          '{"create_invoice":["invoices:write","invoices:write"],"list.v2":[],"constructor":["x"]}',
      }),
    );
    expect([...s.upstream!.toolScopes]).toEqual([
      ['create_invoice', ['invoices:write']],
      ['list.v2', []],
      ['constructor', ['x']],
    ]);
    expect(s.upstream!.toolScopes.get('toString')).toBeUndefined();
  });

  it('reads MCP_REQUEST_OFFLINE_ACCESS, keeping offline_access out of the challenge scopes', () => {
    const s = mcpSettingsFrom(
      loadConfig({ ...production, MCP_REQUEST_OFFLINE_ACCESS: 'true', MCP_SCOPES: 'openid offline_access' }),
    );
    expect(s.requestOfflineAccess).toBe(true);
    expect(s.challengeScopes).toEqual(['openid']);
    expect(mcpSettingsFrom(loadConfig({ ...production, MCP_REQUEST_OFFLINE_ACCESS: 'false' }))).toMatchObject(
      { requestOfflineAccess: false },
    );
  });

  it('adds offline_access last, once, only when asked to (withOfflineAccess)', () => {
    expect(withOfflineAccess(['openid', 'email'], false)).toEqual(['openid', 'email']);
    expect(withOfflineAccess(['openid', 'email'], true)).toEqual(['openid', 'email', 'offline_access']);
    expect(withOfflineAccess(['offline_access', 'openid', 'openid'], true)).toEqual([
      'openid',
      'offline_access',
    ]);
    expect(withOfflineAccess(['offline_access', 'openid'], false)).toEqual(['openid']);
    expect(withOfflineAccess([], true)).toEqual(['offline_access']);
  });

  it("allows MCP Inspector's origin in the local demo only", () => {
    expect(mcpSettingsFrom(loadConfig({})).allowedOrigins).toEqual([
      'http://localhost:6274',
      'http://127.0.0.1:6274',
    ]);
    expect(mcpSettingsFrom(loadConfig(production)).allowedOrigins).toEqual([]);
  });

  it.each([
    [
      { MCP_UPSTREAM_URL: 'https://up.example.com/mcp' },
      /^MCP_UPSTREAM_SECRET: required with MCP_UPSTREAM_URL/,
    ],
    [{ MCP_UPSTREAM_SECRET: 'short' }, /^MCP_UPSTREAM_SECRET: must be at least 32 characters/],
    [{ MCP_SCOPES: 'openid "quoted"' }, /^MCP_SCOPES/],
    ...[
      'not json',
      '["invoices:write"]',
      '"x"',
      'null',
      '{"tool":"invoices:write"}',
      '{"tool":[1]}',
      '{"tool":["has space"]}',
      '{"tool":["quote\\""]}',
      '{"bad name!":["x"]}',
      '{"":["x"]}',
      '{"__proto__":["admin"]}',
    ].map((value): [Record<string, string>, RegExp] => [
      {
        MCP_UPSTREAM_URL: 'https://up.example.com/mcp',
        MCP_UPSTREAM_SECRET: 's'.repeat(32),
        MCP_UPSTREAM_TOOL_SCOPES: value,
      },
      /^MCP_UPSTREAM_TOOL_SCOPES/,
    ]),
    [{ MCP_UPSTREAM_TOOL_SCOPES: '{"tool":["x"]}' }, /^MCP_UPSTREAM_TOOL_SCOPES: only with MCP_UPSTREAM_URL/],
    [
      { MCP_DOCUMENTATION_URL: 'http://docs.example.com' },
      /^MCP_DOCUMENTATION_URL: must be https:\/\/ in production/,
    ],
  ])('refuses %j', (env, problem) => {
    expect(() => loadConfig({ ...production, ...env })).toThrow(
      expect.objectContaining({ problems: expect.arrayContaining([expect.stringMatching(problem)]) }),
    );
  });
});
