import { startEmulator, type RunningEmulator } from '../../emulator';
import { authorizeCode, authorizeUrl, complete, get, LOGIN_URI, pkce, postForm, startLogin } from './helpers';

const CLIENT = {
  clientId: 'neg_client',
  redirectUris: ['http://127.0.0.1:33418/callback', 'https://app.example.com/cb'],
};
const REDIRECT = CLIENT.redirectUris[0];

describe('AuthKit emulator: negative OAuth paths', () => {
  let emulator: RunningEmulator;
  let token: string;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, loginUri: LOGIN_URI, clients: [CLIENT] });
    token = `${emulator.url}/oauth2/token`;
  });
  afterAll(() => emulator.close());

  const base = (challenge: string) => ({
    client_id: CLIENT.clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st',
    scope: 'openid offline_access',
  });

  /** A fresh code for CLIENT with its verifier. */
  async function freshCode() {
    const { verifier, challenge } = pkce();
    const { code } = await authorizeCode(emulator, base(challenge));
    return { code, verifier };
  }

  const exchange = (code: string, verifier: string, extra: Record<string, string | undefined> = {}) =>
    postForm(token, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: CLIENT.clientId,
      code_verifier: verifier,
      ...extra,
    });

  describe('/oauth2/authorize', () => {
    it.each([
      ['an unknown client', { client_id: 'nope' }, 'invalid_client'],
      ['no client_id', { client_id: undefined }, 'invalid_request'],
      [
        'a redirect_uri that is not registered',
        { redirect_uri: 'http://127.0.0.1:33418/other' },
        'invalid_request',
      ],
      [
        'a redirect_uri differing only by a trailing slash',
        { redirect_uri: `${REDIRECT}/` },
        'invalid_request',
      ],
      ['no redirect_uri when several are registered', { redirect_uri: undefined }, 'invalid_request'],
    ])('shows an error page (no redirect) for %s', async (_what, override, error) => {
      const res = await get(authorizeUrl(emulator, { ...base(pkce().challenge), ...override } as never));
      expect(res.status).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.text).toContain(error);
    });

    it.each([
      ['no code_challenge', { code_challenge: undefined }, 'invalid_request'],
      ['code_challenge_method plain', { code_challenge_method: 'plain' }, 'invalid_request'],
      ['no code_challenge_method', { code_challenge_method: undefined }, 'invalid_request'],
      ['a malformed code_challenge', { code_challenge: 'short' }, 'invalid_request'],
      ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
      ['no response_type', { response_type: undefined }, 'invalid_request'],
      ['an unknown scope', { scope: 'openid admin' }, 'invalid_scope'],
      ['a resource with a fragment', { resource: 'https://bridge.example.com/mcp#x' }, 'invalid_target'],
      ['a relative resource', { resource: '/mcp' }, 'invalid_target'],
      ['prompt=none', { prompt: 'none' }, 'login_required'],
    ])('redirects back with an error for %s', async (_what, override, error) => {
      const res = await get(authorizeUrl(emulator, { ...base(pkce().challenge), ...override } as never));
      expect(res.status).toBe(302);
      const to = new URL(res.location!);
      expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
      expect(to.searchParams.get('error')).toBe(error);
      expect(to.searchParams.get('state')).toBe('st');
      expect(to.searchParams.get('code')).toBeNull();
    });
  });

  describe('completion', () => {
    it('404 for an expired external_auth_id, and the browser never gets a code', async () => {
      const id = await startLogin(emulator, base(pkce().challenge));
      emulator.expireExternalAuth(id);
      const res = await complete(emulator, {
        external_auth_id: id,
        user: { id: 'e', email: 'e@example.com' },
      });
      expect(res.status).toBe(404);
      expect(typeof res.body.message).toBe('string');
    });

    it('401 without the API key, 422 for a body without a user', async () => {
      const id = await startLogin(emulator, base(pkce().challenge));
      const unauth = await fetch(`${emulator.url}/authkit/oauth2/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ external_auth_id: id, user: { id: 'e', email: 'e@example.com' } }),
      });
      expect(unauth.status).toBe(401);
      const bad = await complete(emulator, { external_auth_id: id });
      expect(bad.status).toBe(422);
    });

    it('the completion redirect works once', async () => {
      const id = await startLogin(emulator, base(pkce().challenge));
      const res = await complete(emulator, {
        external_auth_id: id,
        user: { id: 'o', email: 'o@example.com' },
      });
      expect((await get(res.body.redirect_uri as string)).status).toBe(302);
      expect((await get(res.body.redirect_uri as string)).status).toBe(400);
    });
  });

  describe('/oauth2/token', () => {
    it('invalid_grant for a wrong PKCE verifier', async () => {
      const { code } = await freshCode();
      const res = await exchange(code, pkce().verifier);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
      expect(res.headers.get('cache-control')).toBe('no-store');
    });

    it('invalid_request without a verifier', async () => {
      const { code } = await freshCode();
      const res = await exchange(code, '');
      expect(res.body.error).toBe('invalid_request');
    });

    it('invalid_grant for a reused code, and the tokens it produced are revoked', async () => {
      const { code, verifier } = await freshCode();
      const first = await exchange(code, verifier);
      expect(first.status).toBe(200);
      const again = await exchange(code, verifier);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_grant');
      const refresh = await postForm(token, {
        grant_type: 'refresh_token',
        refresh_token: first.body.refresh_token as string,
        client_id: CLIENT.clientId,
      });
      expect(refresh.body.error).toBe('invalid_grant');
    });

    it('invalid_grant for a mismatched redirect_uri', async () => {
      const { code, verifier } = await freshCode();
      const res = await exchange(code, verifier, { redirect_uri: CLIENT.redirectUris[1] });
      expect(res.body.error).toBe('invalid_grant');
    });

    it('invalid_grant for an expired code', async () => {
      const short = await startEmulator({
        port: 0,
        loginUri: LOGIN_URI,
        clients: [CLIENT],
        authorizationCodeTtlSeconds: 0,
      });
      try {
        const { verifier, challenge } = pkce();
        const { code } = await authorizeCode(short, base(challenge));
        const res = await postForm(`${short.url}/oauth2/token`, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          client_id: CLIENT.clientId,
          code_verifier: verifier,
        });
        expect(res.body.error).toBe('invalid_grant');
      } finally {
        await short.close();
      }
    });

    it('invalid_grant for a code presented by another client', async () => {
      const reg = await fetch(`${emulator.url}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT] }),
      });
      const other = ((await reg.json()) as { client_id: string }).client_id;
      const { code, verifier } = await freshCode();
      const res = await exchange(code, verifier, { client_id: other });
      expect(res.body.error).toBe('invalid_grant');
    });

    it('invalid_target when the token request names another resource', async () => {
      const { code, verifier } = await freshCode();
      const res = await exchange(code, verifier, { resource: 'https://evil.example.com/mcp' });
      expect(res.body.error).toBe('invalid_target');
    });

    it('invalid_grant for a reused refresh token, which revokes the whole family', async () => {
      const { code, verifier } = await freshCode();
      const t0 = await exchange(code, verifier);
      const refresh = (rt: unknown) =>
        postForm(token, {
          grant_type: 'refresh_token',
          refresh_token: rt as string,
          client_id: CLIENT.clientId,
        });
      const t1 = await refresh(t0.body.refresh_token);
      expect(t1.status).toBe(200);
      const reuse = await refresh(t0.body.refresh_token);
      expect(reuse.status).toBe(400);
      expect(reuse.body.error).toBe('invalid_grant');
      // The legitimate successor is revoked too.
      const successor = await refresh(t1.body.refresh_token);
      expect(successor.body.error).toBe('invalid_grant');
    });

    it('invalid_scope when a refresh asks for more than was granted', async () => {
      const { code, verifier } = await freshCode();
      const t0 = await exchange(code, verifier);
      const res = await postForm(token, {
        grant_type: 'refresh_token',
        refresh_token: t0.body.refresh_token as string,
        client_id: CLIENT.clientId,
        scope: 'openid email offline_access',
      });
      expect(res.body.error).toBe('invalid_scope');
    });

    it('invalid_client (401) for an unknown client', async () => {
      const { code, verifier } = await freshCode();
      const res = await exchange(code, verifier, { client_id: 'unknown_client' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });

    it('unsupported_grant_type for client_credentials and password', async () => {
      for (const grant of ['client_credentials', 'password']) {
        const res = await postForm(token, { grant_type: grant, client_id: CLIENT.clientId });
        expect(res.body.error).toBe('unsupported_grant_type');
      }
    });

    it('a confidential DCR client must authenticate (Basic), else invalid_client with WWW-Authenticate', async () => {
      const reg = await fetch(`${emulator.url}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'client_secret_basic',
        }),
      });
      const c = (await reg.json()) as { client_id: string; client_secret: string };
      expect(c.client_secret).toBeTruthy();
      const { verifier, challenge } = pkce();
      const { code } = await authorizeCode(emulator, { ...base(challenge), client_id: c.client_id });
      const form = {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      };
      const wrong = await postForm(token, form, {
        authorization: `Basic ${Buffer.from(`${c.client_id}:nope`).toString('base64')}`,
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe('invalid_client');
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
      // The failed attempt burnt the code (one use), so authorize again.
      const second = pkce();
      const { code: code2 } = await authorizeCode(emulator, {
        ...base(second.challenge),
        client_id: c.client_id,
      });
      const ok = await postForm(
        token,
        { ...form, code: code2, code_verifier: second.verifier },
        { authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` },
      );
      expect(ok.status).toBe(200);
    });
  });

  describe('/oauth2/register', () => {
    it.each([
      [{ redirect_uris: [] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['http://evil.example.com/cb'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['https://app.example.com/cb#frag'] }, 'invalid_redirect_uri'],
      [{ redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
      [
        { redirect_uris: ['https://a.example/cb'], grant_types: ['client_credentials'] },
        'invalid_client_metadata',
      ],
      [
        { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' },
        'invalid_client_metadata',
      ],
    ])('rejects %j with %s', async (metadata, error) => {
      const res = await fetch(`${emulator.url}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(metadata),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Record<string, unknown>).error).toBe(error);
    });
  });
});
