import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { authorizeCode, complete, get, LOGIN_URI, pkce, postForm, startLogin } from './helpers';

const CLIENT = {
  clientId: 'test_client',
  redirectUris: ['http://127.0.0.1:33418/callback'],
  name: 'Test client',
};
const REDIRECT = CLIENT.redirectUris[0];
const RESOURCE = 'https://bridge.example.com/mcp';

describe('AuthKit emulator: the OAuth flow', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, loginUri: LOGIN_URI, clients: [CLIENT] });
  });
  afterAll(() => emulator.close());

  it('serves both metadata documents with the issuer byte-identical to the configured URL', async () => {
    expect(emulator.issuer).toBe(emulator.url);
    expect(emulator.issuer).not.toMatch(/\/$/);
    const as = (await (
      await fetch(`${emulator.url}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    const oidc = (await (await fetch(`${emulator.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    for (const doc of [as, oidc]) {
      expect(doc.issuer).toBe(emulator.issuer);
      expect(doc).toMatchObject({
        authorization_endpoint: `${emulator.issuer}/oauth2/authorize`,
        token_endpoint: `${emulator.issuer}/oauth2/token`,
        registration_endpoint: `${emulator.issuer}/oauth2/register`,
        introspection_endpoint: `${emulator.issuer}/oauth2/introspection`,
        code_challenge_methods_supported: ['S256'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        response_types_supported: ['code'],
        scopes_supported: ['email', 'offline_access', 'openid', 'profile'],
        token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
        client_id_metadata_document_supported: true,
      });
    }
    expect(oidc).toMatchObject({
      jwks_uri: `${emulator.issuer}/oauth2/jwks`,
      userinfo_endpoint: `${emulator.issuer}/oauth2/userinfo`,
    });
  });

  it('answers CORS preflights on the public OAuth endpoints', async () => {
    const res = await fetch(`${emulator.url}/oauth2/token`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('publishes RS256 keys with kids', async () => {
    const jwks = (await (await fetch(`${emulator.url}/oauth2/jwks`)).json()) as {
      keys: Array<Record<string, string>>;
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0].kid).toMatch(/^sso_oidc_key_pair_01[0-9A-Z]{24}$/);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('sends the browser to the Login URI with an external_auth_id', async () => {
    const { challenge } = pkce();
    const res = await get(
      `${emulator.url}/oauth2/authorize?${new URLSearchParams({
        client_id: CLIENT.clientId,
        redirect_uri: REDIRECT,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's1',
      })}`,
    );
    expect(res.status).toBe(302);
    const to = new URL(res.location!);
    expect(`${to.origin}${to.pathname}`).toBe(LOGIN_URI);
    expect([...to.searchParams.keys()]).toEqual(['external_auth_id']);
    expect(to.searchParams.get('external_auth_id')).toMatch(/^ext_auth_01[0-9A-Z]{24}$/);
  });

  it('completes: code → tokens (aud = resource) → refresh with rotation', async () => {
    const { verifier, challenge } = pkce();
    const { code, state } = await authorizeCode(emulator, {
      client_id: CLIENT.clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'xyz',
      scope: 'openid profile email offline_access',
      resource: RESOURCE,
    });
    expect(state).toBe('xyz');
    const tok = await postForm(`${emulator.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: CLIENT.clientId,
      code_verifier: verifier,
      resource: RESOURCE,
    });
    expect(tok.status).toBe(200);
    expect(tok.headers.get('cache-control')).toBe('no-store');
    expect(tok.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'openid profile email offline_access',
    });
    expect(typeof tok.body.refresh_token).toBe('string');
    const jwks = createRemoteJWKSet(new URL(`${emulator.url}/oauth2/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tok.body.access_token as string, jwks, {
      issuer: emulator.issuer,
      audience: RESOURCE,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toMatch(/^sso_oidc_key_pair_/);
    const user = emulator.users()[0];
    expect(user).toMatchObject({ externalId: 'legacy-1', email: 'ada@example.com' });
    expect(payload).toMatchObject({
      sub: user.id,
      client_id: CLIENT.clientId,
      scope: 'openid profile email offline_access',
    });
    expect(payload.sub).toMatch(/^user_01/);
    expect(payload.sid).toMatch(/^session_01/);
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(300);

    const r1 = await postForm(`${emulator.url}/oauth2/token`, {
      grant_type: 'refresh_token',
      refresh_token: tok.body.refresh_token as string,
      client_id: CLIENT.clientId,
    });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(tok.body.refresh_token);
    const again = await jwtVerify(r1.body.access_token as string, jwks, { audience: RESOURCE });
    expect(again.payload.sid).toBe(payload.sid);
  });

  it('uses the environment client id as aud without a resource, and no refresh token without offline_access', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeCode(emulator, {
      client_id: CLIENT.clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const tok = await postForm(`${emulator.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: CLIENT.clientId,
      code_verifier: verifier,
    });
    expect(tok.status).toBe(200);
    expect(tok.body.refresh_token).toBeUndefined();
    expect(tok.body.scope).toBe('openid profile email');
    const jwks = createLocalJWKSet(emulator.jwks() as never);
    const { payload } = await jwtVerify(tok.body.access_token as string, jwks, {
      audience: emulator.clientId,
    });
    expect(payload.aud).toBe('client_emulator');
  });

  it('shows a consent page when consent options are given, and puts the choice in the token', async () => {
    const { verifier, challenge } = pkce();
    const externalAuthId = await startLogin(emulator, {
      client_id: CLIENT.clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'c1',
    });
    const done = await complete(emulator, {
      external_auth_id: externalAuthId,
      user: { id: 'legacy-2', email: 'grace@example.com' },
      user_consent_options: [
        {
          claim: 'urn:example:tenant',
          type: 'enum',
          label: 'Environment',
          choices: [
            { value: 'prod_us', label: 'US-East' },
            { value: 'prod_eu', label: 'EU' },
          ],
        },
      ],
    });
    expect(done.status).toBe(200);
    const redirectUri = done.body.redirect_uri as string;
    expect(new URL(redirectUri).origin).toBe(emulator.issuer);
    const consent = await get(redirectUri);
    expect(consent.status).toBe(200);
    expect(consent.text).toContain('US-East');
    const ticket = new URL(redirectUri).searchParams.get('ticket')!;
    const res = await fetch(`${emulator.url}/oauth2/consent`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ ticket, choice_0: 'prod_eu', decision: 'allow' }),
    });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('c1');
    const tok = await postForm(`${emulator.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      client_id: CLIENT.clientId,
      code_verifier: verifier,
    });
    const { payload } = await jwtVerify(
      tok.body.access_token as string,
      createLocalJWKSet(emulator.jwks() as never),
    );
    expect(payload['urn:example:tenant']).toBe('prod_eu');
    // The ticket is one use.
    expect((await get(redirectUri)).status).toBe(400);
  });

  it('registers public clients dynamically (RFC 7591)', async () => {
    const res = await fetch(`${emulator.url}/oauth2/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Dyn',
        redirect_uris: ['http://localhost:5555/cb'],
        token_endpoint_auth_method: 'none',
      }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_name: 'Dyn',
      redirect_uris: ['http://localhost:5555/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    expect(body.client_id).toMatch(/^client_01/);
    expect(body.client_secret).toBeUndefined();
  });

  it('mints tokens for tests, and keeps the previous key published after a rotation', async () => {
    const t1 = await emulator.mintAccessToken({ aud: RESOURCE });
    const kid1 = decodeProtectedHeader(t1).kid;
    await emulator.rotateKeys({ graceSeconds: 60 });
    const t2 = await emulator.mintAccessToken();
    expect(decodeProtectedHeader(t2).kid).not.toBe(kid1);
    const jwks = createRemoteJWKSet(new URL(`${emulator.url}/oauth2/jwks`));
    await expect(jwtVerify(t1, jwks, { issuer: emulator.issuer, audience: RESOURCE })).resolves.toBeDefined();
    const { payload } = await jwtVerify(t2, jwks, { issuer: emulator.issuer, audience: 'client_emulator' });
    expect(payload).toMatchObject({ client_id: 'client_emulator', scope: 'openid profile email' });
    expect(payload.sub).toMatch(/^user_01/);

    // A rotation without grace drops the key it retires at once (kid1 is still in its grace).
    const kid2 = decodeProtectedHeader(t2).kid;
    await emulator.rotateKeys({ graceSeconds: 0 });
    const kids = emulator.jwks().keys.map((k) => k.kid);
    expect(kids).toHaveLength(2);
    expect(kids).toContain(kid1);
    expect(kids).not.toContain(kid2);
    await expect(jwtVerify(t2, createLocalJWKSet(emulator.jwks() as never))).rejects.toThrow();
  });
});
