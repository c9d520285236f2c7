import { Challenges, jsonRpcError, requestIdOf } from './challenges';

const challenges = new Challenges({
  resourceMetadataUrl: 'https://bridge.example.com/.well-known/oauth-protected-resource/mcp',
  challengeScopes: ['openid', 'profile', 'email'],
  requestOfflineAccess: false,
});

describe('Challenges (WWW-Authenticate)', () => {
  it('names the metadata and the scopes, without an error, when no token was sent', () => {
    expect(challenges.noToken).toBe(
      'Bearer resource_metadata="https://bridge.example.com/.well-known/oauth-protected-resource/mcp", scope="openid profile email"',
    );
    expect(challenges.forRejection('missing')).toBe(challenges.noToken);
  });

  it('adds error="invalid_token" and a fixed description for a refused token', () => {
    expect(challenges.forRejection('expired')).toBe(
      'Bearer error="invalid_token", error_description="The access token has expired.", ' +
        'resource_metadata="https://bridge.example.com/.well-known/oauth-protected-resource/mcp", scope="openid profile email"',
    );
    expect(challenges.forRejection('wrong_audience')).toContain(
      'error_description="The access token was not issued for this resource."',
    );
  });

  it('names every scope the operation needs on insufficient_scope', () => {
    expect(
      challenges.insufficientScope(
        ['openid', 'profile', 'email'],
        'The tool get_profile requires the scopes: profile email.',
      ),
    ).toBe(
      'Bearer error="insufficient_scope", error_description="The tool get_profile requires the scopes: profile email.", ' +
        'scope="openid profile email", resource_metadata="https://bridge.example.com/.well-known/oauth-protected-resource/mcp"',
    );
  });

  it('asks for offline_access in the 401 challenges with MCP_REQUEST_OFFLINE_ACCESS, not in the 403', () => {
    const offline = new Challenges({
      resourceMetadataUrl: 'https://bridge.example.com/.well-known/oauth-protected-resource/mcp',
      challengeScopes: ['openid', 'profile', 'email'],
      requestOfflineAccess: true,
    });
    expect(offline.noToken).toBe(
      'Bearer resource_metadata="https://bridge.example.com/.well-known/oauth-protected-resource/mcp", scope="openid profile email offline_access"',
    );
    expect(offline.forRejection('expired')).toMatch(/, scope="openid profile email offline_access"$/);
    expect(offline.insufficientScope(['openid', 'profile'], 'd')).toBe(
      challenges.insufficientScope(['openid', 'profile'], 'd'),
    );
    expect(offline.insufficientScope(['openid', 'profile'], 'd')).not.toContain('offline_access');
    expect(challenges.noToken).not.toContain('offline_access');
    const only = new Challenges({
      resourceMetadataUrl: 'https://x',
      challengeScopes: [],
      requestOfflineAccess: true,
    });
    expect(only.noToken).toBe('Bearer resource_metadata="https://x", scope="offline_access"');
  });

  it('quotes values safely', () => {
    const odd = new Challenges({
      resourceMetadataUrl: 'https://x/"\\',
      challengeScopes: [],
      requestOfflineAccess: false,
    });
    expect(odd.noToken).toBe('Bearer resource_metadata="https://x/\\"\\\\"');
    expect(challenges.insufficientScope(['a'], 'line\nbreak "q"')).toContain(
      'error_description="line break \\"q\\""',
    );
  });
});

describe('JSON-RPC errors', () => {
  it('serializes an error response', () => {
    expect(jsonRpcError(-32001, 'Unauthorized: x', 7)).toBe(
      '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Unauthorized: x"},"id":7}',
    );
  });

  it.each([
    [{ id: 3 }, 3],
    [{ id: 'a' }, 'a'],
    [{ id: null }, null],
    [{ id: {} }, null],
    [[{ id: 1 }], null],
    [undefined, null],
    ['x', null],
  ])('echoes the id of %j as %j', (body, id) => {
    expect(requestIdOf(body)).toBe(id);
  });
});
