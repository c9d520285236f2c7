import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { authorizeUrl, complete, get, LOGIN_URI, pkce, postForm, startLogin } from './helpers';

/** A tiny server for Client ID Metadata Documents: path → JSON. */
async function docServer(
  docs: Record<string, (origin: string) => unknown>,
): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const make = docs[req.url ?? ''];
    if (!make) return void res.writeHead(404).end();
    const { port } = server.address() as AddressInfo;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(make(`http://localhost:${port}`)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://localhost:${(server.address() as AddressInfo).port}`, server };
}

describe('AuthKit emulator: Client ID Metadata Documents', () => {
  let emulator: RunningEmulator;
  let strict: RunningEmulator;
  let docs: Awaited<ReturnType<typeof docServer>>;
  const REDIRECT = 'http://127.0.0.1:33418/callback';
  beforeAll(async () => {
    docs = await docServer({
      '/client.json': (o) => ({
        client_id: `${o}/client.json`,
        client_name: 'CIMD client',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
      }),
      '/liar.json': () => ({
        client_id: 'https://someone-else.example.com/client.json',
        redirect_uris: [REDIRECT],
      }),
      '/secret.json': (o) => ({
        client_id: `${o}/secret.json`,
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    emulator = await startEmulator({ port: 0, loginUri: LOGIN_URI, allowHttpLocalhostClientIds: true });
    strict = await startEmulator({ port: 0, loginUri: LOGIN_URI });
  });
  afterAll(async () => {
    await emulator.close();
    await strict.close();
    await new Promise((r) => docs.server.close(r));
  });

  const params = (clientId: string) => {
    const { verifier, challenge } = pkce();
    return {
      verifier,
      p: {
        client_id: clientId,
        redirect_uri: REDIRECT,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'cimd',
        scope: 'openid offline_access',
      },
    };
  };

  it('fetches the document, runs the flow and issues tokens to the URL client_id', async () => {
    const clientId = `${docs.origin}/client.json`;
    const { verifier, p } = params(clientId);
    const id = await startLogin(emulator, p);
    const done = await complete(emulator, {
      external_auth_id: id,
      user: { id: 'c1', email: 'c1@example.com' },
    });
    const back = new URL((await get(done.body.redirect_uri as string)).location!);
    const tok = await postForm(`${emulator.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      client_id: clientId,
      code_verifier: verifier,
    });
    expect(tok.status).toBe(200);
    const { payload } = await jwtVerify(
      tok.body.access_token as string,
      createLocalJWKSet(emulator.jwks() as never),
    );
    expect(payload.client_id).toBe(clientId);
  });

  it('refuses http://localhost client_id URLs without the development option', async () => {
    const res = await get(authorizeUrl(strict, params(`${docs.origin}/client.json`).p));
    expect(res.status).toBe(400);
    expect(res.text).toContain('allowHttpLocalhostClientIds');
  });

  it.each([
    ['a document whose client_id differs from its URL', '/liar.json', 'does not equal its URL'],
    ['a document asking for a client secret', '/secret.json', 'token_endpoint_auth_method none'],
    ['a document that does not exist', '/missing.json', 'could not fetch'],
  ])('shows an error page for %s', async (_what, path, text) => {
    const res = await get(authorizeUrl(emulator, params(`${docs.origin}${path}`).p));
    expect(res.status).toBe(400);
    expect(res.text).toContain(text);
  });

  it('fetches https documents through the injectable fetch, and checks redirect_uri against them', async () => {
    const clientId = 'https://client.example.com/oauth/metadata.json';
    const e = await startEmulator({
      port: 0,
      loginUri: LOGIN_URI,
      fetch: (async (url: string) =>
        new Response(JSON.stringify({ client_id: url, redirect_uris: [REDIRECT], client_name: 'Ex' }), {
          headers: { 'content-type': 'application/json' },
        })) as typeof fetch,
    });
    try {
      const { p } = params(clientId);
      expect((await get(authorizeUrl(e, p))).location).toMatch(
        /^http:\/\/127\.0\.0\.1:9\/auth\/login\?external_auth_id=/,
      );
      const wrong = await get(authorizeUrl(e, { ...p, redirect_uri: 'http://127.0.0.1:1/evil' }));
      expect(wrong.status).toBe(400);
      expect(wrong.location).toBeUndefined();
    } finally {
      await e.close();
    }
  });
});

describe('AuthKit emulator: the test-control surface', () => {
  let emulator: RunningEmulator;
  let plain: RunningEmulator;
  const CLIENT = { clientId: 'ctl_client', redirectUris: ['http://127.0.0.1:33418/callback'] };
  beforeAll(async () => {
    emulator = await startEmulator({
      port: 0,
      loginUri: LOGIN_URI,
      enableTestControl: true,
      clients: [CLIENT],
    });
    plain = await startEmulator({ port: 0, loginUri: LOGIN_URI });
  });
  afterAll(async () => {
    await emulator.close();
    await plain.close();
  });
  const ctl = (e: RunningEmulator, method: string, path: string, body?: unknown, key = e.apiKey) =>
    fetch(`${e.url}/__emulator${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('is absent unless enabled, and needs the API key when enabled', async () => {
    expect((await ctl(plain, 'POST', '/tokens', {})).status).toBe(404);
    expect((await ctl(emulator, 'POST', '/tokens', {}, 'sk_test_wrong')).status).toBe(401);
  });

  it('mints tokens with chosen claims, and hostile ones (alg none, HS256, unknown key, previous key)', async () => {
    const mint = async (body: unknown) =>
      ((await (await ctl(emulator, 'POST', '/tokens', body)).json()) as { access_token: string })
        .access_token;
    const jwks = () => createLocalJWKSet(emulator.jwks() as never);
    const good = await mint({ claims: { aud: 'https://bridge.example.com/mcp', org_id: 'org_1' } });
    const { payload } = await jwtVerify(good, jwks(), {
      issuer: emulator.issuer,
      audience: 'https://bridge.example.com/mcp',
    });
    expect(payload.org_id).toBe('org_1');

    const none = await mint({ alg: 'none' });
    expect(none.endsWith('.')).toBe(true);
    await expect(jwtVerify(none, jwks())).rejects.toThrow();
    const hs = await mint({ alg: 'HS256' });
    expect(decodeProtectedHeader(hs).alg).toBe('HS256');
    await expect(jwtVerify(hs, jwks())).rejects.toThrow();
    const unknown = await mint({ key: 'unknown' });
    await expect(jwtVerify(unknown, jwks())).rejects.toThrow();
    const es = await mint({ alg: 'ES256' });
    await expect(jwtVerify(es, jwks())).rejects.toThrow();
    const expired = await mint({ expiresInSeconds: -60 });
    await expect(jwtVerify(expired, jwks())).rejects.toThrow(/exp/);
    const noAud = await emulator.mintAccessToken({ aud: undefined });
    expect(JSON.parse(Buffer.from(noAud.split('.')[1], 'base64url').toString())).not.toHaveProperty('aud');

    // Rotation with grace: the previous key still verifies until its grace ends.
    const res = await ctl(emulator, 'POST', '/keys/rotate', { graceSeconds: 30 });
    expect(((await res.json()) as { keys: unknown[] }).keys).toHaveLength(2);
    const prev = await mint({ key: 'previous' });
    await expect(jwtVerify(prev, jwks())).resolves.toBeDefined();
    await expect(jwtVerify(good, jwks())).resolves.toBeDefined();
  });

  it('expires a pending login, injects and clears faults, lists completion calls and users', async () => {
    const { challenge } = pkce();
    const p = {
      client_id: CLIENT.clientId,
      redirect_uri: CLIENT.redirectUris[0],
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const id1 = await startLogin(emulator, p);
    expect((await ctl(emulator, 'POST', `/external-auth/${id1}/expire`)).status).toBe(204);
    expect((await ctl(emulator, 'POST', '/external-auth/ext_auth_nope/expire')).status).toBe(404);
    expect(
      (await complete(emulator, { external_auth_id: id1, user: { id: 'z', email: 'z@example.com' } })).status,
    ).toBe(404);

    const id2 = await startLogin(emulator, p);
    expect((await ctl(emulator, 'POST', '/faults/completion', { status: 503, times: 2 })).status).toBe(204);
    const user = { id: 'z', email: 'z@example.com' };
    expect((await complete(emulator, { external_auth_id: id2, user })).status).toBe(503);
    expect((await ctl(emulator, 'DELETE', '/faults')).status).toBe(204);
    expect((await complete(emulator, { external_auth_id: id2, user })).status).toBe(200);

    const calls = (await (await ctl(emulator, 'GET', '/completion-calls')).json()) as Array<
      Record<string, unknown>
    >;
    expect(calls.map((c) => [c.externalAuthId, c.status])).toEqual([
      [id1, 404],
      [id2, 503],
      [id2, 200],
    ]);
    const users = (await (await ctl(emulator, 'GET', '/users')).json()) as Array<Record<string, unknown>>;
    expect(users).toEqual([
      expect.objectContaining({ object: 'user', external_id: 'z', email: 'z@example.com' }),
    ]);
  });
});
