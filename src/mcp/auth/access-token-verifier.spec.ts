import type { JWTPayload } from 'jose';
import { FakeClock, FakeFetch, jwks, sign, testKey, unsecured, type TestKey } from '../../../test/mcp/keys';
import type { Clock } from '../clock';
import { mcpSettingsFrom, type McpSettings } from '../mcp-settings';
import { loadConfig } from '../../config/app-config';
import { AccessTokenVerifier } from './access-token-verifier';
import { JwksKeyStore, KeySetUnavailableError } from './jwks-key-store';
import { TokenRejectedError, type TokenRejection } from './token-errors';

const ISSUER = 'https://acme.authkit.app';
const JWKS_URL = `${ISSUER}/oauth2/jwks`;
const AUDIENCE = 'https://bridge.example.com/mcp';

function settings(): McpSettings {
  return mcpSettingsFrom(
    loadConfig({
      PUBLIC_URL: 'https://bridge.example.com',
      AUTHKIT_DOMAIN: ISSUER,
      WORKOS_API_KEY: 'sk_test_1',
      WORKOS_CLIENT_ID: 'client_1',
    }),
  );
}

describe('AccessTokenVerifier', () => {
  let key: TestKey;
  let other: TestKey;
  let ecKey: TestKey;
  let clock: FakeClock;
  let fetch: FakeFetch;
  let keys: JwksKeyStore;
  let verifier: AccessTokenVerifier;

  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user_01ABC',
    client_id: 'client_01XYZ',
    sid: 'session_1',
    jti: 'jti_1',
    scope: 'openid profile email',
    iat: clock.seconds,
    exp: clock.seconds + 300,
    ...extra,
  });

  async function rejection(token: string): Promise<TokenRejection> {
    try {
      await verifier.verify(token);
    } catch (err) {
      expect(err).toBeInstanceOf(TokenRejectedError);
      return (err as TokenRejectedError).reason;
    }
    throw new Error('expected the token to be refused');
  }

  beforeAll(async () => {
    key = await testKey('sso_oidc_key_pair_01A');
    other = await testKey('sso_oidc_key_pair_01B');
    ecKey = await testKey('ec_1', 'ES256');
  });

  beforeEach(() => {
    clock = new FakeClock();
    fetch = new FakeFetch();
    fetch.documents.set(JWKS_URL, jwks(key));
    const s = settings();
    keys = new JwksKeyStore(s, fetch.fn, clock as unknown as Clock);
    verifier = new AccessTokenVerifier(s, keys, clock as unknown as Clock);
  });

  it('accepts a valid AuthKit token and returns its facts', async () => {
    const verified = await verifier.verify(await sign(claims({ org_id: 'org_1' }), key));
    expect(verified).toMatchObject({
      sub: 'user_01ABC',
      clientId: 'client_01XYZ',
      orgId: 'org_1',
      scopes: ['openid', 'profile', 'email'],
      expiresAt: clock.seconds + 300,
    });
    expect(verified.claims.sid).toBe('session_1');
  });

  it('accepts an audience array that contains ours', async () => {
    await expect(
      verifier.verify(await sign(claims({ aud: ['client_1', AUDIENCE] }), key)),
    ).resolves.toBeDefined();
  });

  it('fetches the key set once and reuses it', async () => {
    for (let i = 0; i < 3; i++) await verifier.verify(await sign(claims({ jti: `j${i}` }), key));
    expect(fetch.count(JWKS_URL)).toBe(1);
  });

  it.each([
    ['', 'malformed'],
    ['abc', 'malformed'],
    ['a.b', 'malformed'],
    ['a.b.c.d', 'malformed'],
    ['....', 'malformed'],
    ['null', 'malformed'],
    ['[]', 'malformed'],
    ['0', 'malformed'],
    ['e30.e30.', 'malformed'],
    ['has space.b.c', 'malformed'],
  ])('refuses the non-token %j as %s, without fetching keys', async (token, reason) => {
    expect(await rejection(token)).toBe(reason);
    expect(fetch.calls).toHaveLength(0);
  });

  it('refuses a signed-looking token whose payload is not JSON', async () => {
    expect(['bad_signature', 'malformed']).toContain(
      await rejection('eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln'),
    );
  });

  it('refuses an oversized token before decoding it', async () => {
    const big = `${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`;
    expect(await rejection(big)).toBe('too_large');
    expect(fetch.calls).toHaveLength(0);
  });

  it('refuses alg none, with or without a signature', async () => {
    expect(await rejection(unsecured(claims()))).toBe('alg_not_allowed');
    expect(await rejection(`${unsecured(claims())}c2ln`)).toBe('alg_not_allowed');
    expect(await rejection(unsecured(claims(), { alg: 'None' }))).toBe('alg_not_allowed');
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(key.spki);
    expect(await rejection(await sign(claims(), key, { alg: 'HS256', key: secret }))).toBe('alg_not_allowed');
    const jwkSecret = new TextEncoder().encode(JSON.stringify(key.jwk));
    expect(await rejection(await sign(claims(), key, { alg: 'HS256', key: jwkSecret }))).toBe(
      'alg_not_allowed',
    );
  });

  it('refuses other asymmetric algorithms', async () => {
    const relabel = async (alg: string) => {
      const [, payload, signature] = (await sign(claims(), key)).split('.');
      const header = Buffer.from(JSON.stringify({ alg, kid: key.kid, typ: 'JWT' })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    };
    for (const alg of ['RS384', 'RS512', 'PS256', 'ES256', 'EdDSA', 'HS512']) {
      expect(await rejection(await relabel(alg))).toBe('alg_not_allowed');
    }
    expect(await rejection(await sign(claims(), ecKey, { alg: 'ES256' }))).toBe('alg_not_allowed');
  });

  it('refuses a tampered payload and a signature by another key with our kid', async () => {
    const token = await sign(claims(), key);
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify(claims({ sub: 'user_admin' }))).toString('base64url');
    expect(await rejection(`${h}.${forged}.${s}`)).toBe('bad_signature');
    expect(await rejection(await sign(claims(), other, { kid: key.kid }))).toBe('bad_signature');
  });

  it('refuses expired tokens, tolerating a few seconds of skew', async () => {
    expect(
      await rejection(await sign(claims({ iat: clock.seconds - 400, exp: clock.seconds - 60 }), key)),
    ).toBe('expired');
    await expect(
      verifier.verify(await sign(claims({ iat: clock.seconds - 300, exp: clock.seconds - 3 }), key)),
    ).resolves.toBeDefined();
  });

  it('refuses tokens that are not valid yet (nbf or iat in the future)', async () => {
    expect(await rejection(await sign(claims({ nbf: clock.seconds + 120 }), key))).toBe('not_yet_valid');
    expect(
      await rejection(await sign(claims({ iat: clock.seconds + 120, exp: clock.seconds + 420 }), key)),
    ).toBe('not_yet_valid');
  });

  it.each([
    ['a trailing slash', `${ISSUER}/`],
    ['another AuthKit', 'https://evil.authkit.app'],
    ['a different scheme', 'http://acme.authkit.app'],
  ])('refuses an issuer with %s', async (_what, iss) => {
    expect(await rejection(await sign(claims({ iss }), key))).toBe('wrong_issuer');
  });

  it.each([
    ['the bare client id', 'client_1'],
    ['another resource', 'https://other.example.com/mcp'],
    ['a trailing slash', `${AUDIENCE}/`],
  ])('refuses an audience of %s', async (_what, aud) => {
    expect(await rejection(await sign(claims({ aud }), key))).toBe('wrong_audience');
  });

  it.each(['exp', 'iat', 'sub', 'iss', 'aud'])('refuses a token without %s', async (claim) => {
    const c = claims();
    delete c[claim as keyof JWTPayload];
    const reason = await rejection(await sign(c, key));
    expect(['missing_claims', 'wrong_issuer', 'wrong_audience']).toContain(reason);
  });

  it.each([0, -1, true, null, [], {}, ''])('refuses sub = %j', async (sub) => {
    expect(await rejection(await sign(claims({ sub: sub as never }), key))).toBe('missing_claims');
  });

  describe('key rotation', () => {
    it('accepts a rotated-in kid with one refetch, at most a cooldown after the last fetch', async () => {
      await verifier.verify(await sign(claims(), key));
      fetch.documents.set(JWKS_URL, jwks(key, other));
      const rotated = await sign(claims(), other);
      // Within the cooldown of a successful fetch an unknown kid is refused at once, without a
      // fetch (made-up kids must not hold requests or make the bridge ask AuthKit every second);
      // once the cooldown is over, one refetch picks the new key up.
      expect(await rejection(rotated)).toBe('unknown_key');
      expect(fetch.count(JWKS_URL)).toBe(1);
      clock.advance(30_000);
      await expect(verifier.verify(rotated)).resolves.toBeDefined();
      expect(fetch.count(JWKS_URL)).toBe(2);
      await expect(verifier.verify(await sign(claims({ jti: 'again' }), other))).resolves.toBeDefined();
      expect(fetch.count(JWKS_URL)).toBe(2);
    });

    it('does not let a flood of made-up kids become a flood of fetches', async () => {
      await verifier.verify(await sign(claims(), key));
      clock.advance(31_000);
      const made = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sign(claims(), key, { kid: `made_up_${i}` })),
      );
      const flood = await Promise.all(made.map(rejection));
      expect(new Set(flood)).toEqual(new Set(['unknown_key']));
      expect(fetch.count(JWKS_URL)).toBe(2);
      // A kid still unknown after that refetch is refused without asking again during the cooldown.
      for (let i = 0; i < 5; i++) {
        expect(await rejection(await sign(claims(), key, { kid: 'made_up_3' }))).toBe('unknown_key');
      }
      expect(fetch.count(JWKS_URL)).toBe(2);
    });

    it('refuses a kid that is still unknown after the refetch', async () => {
      clock.advance(31_000);
      expect(await rejection(await sign(claims(), other))).toBe('unknown_key');
    });
  });

  describe('when AuthKit is unreachable', () => {
    it('reports unavailable (not a token problem) when no key set was ever fetched', async () => {
      fetch.failing = true;
      await expect(verifier.verify(await sign(claims(), key))).rejects.toBeInstanceOf(KeySetUnavailableError);
      // and does not hammer AuthKit: a second try within a second answers from memory
      await expect(verifier.verify(await sign(claims(), key))).rejects.toBeInstanceOf(KeySetUnavailableError);
      expect(fetch.calls).toHaveLength(1);
      expect(keys.status().lastError).toMatch(/ECONNREFUSED/);
    });

    it('keeps verifying with the last good key set', async () => {
      await verifier.verify(await sign(claims(), key));
      fetch.failing = true;
      clock.advance(11 * 60_000); // older than the max age: a background refresh is attempted and fails
      await expect(verifier.verify(await sign(claims(), key))).resolves.toBeDefined();
      await new Promise((r) => setImmediate(r));
      expect(fetch.calls.length).toBe(2);
      await expect(verifier.verify(await sign(claims(), key))).resolves.toBeDefined();
      expect(keys.status()).toMatchObject({ keys: 1, lastError: expect.stringMatching(/failed/) });
    });

    it('refreshes a stale key set in the background and uses the new one', async () => {
      await verifier.verify(await sign(claims(), key));
      fetch.documents.set(JWKS_URL, jwks(other));
      clock.advance(11 * 60_000);
      await verifier.verify(await sign(claims(), key)); // still the old set, refresh started
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      await expect(verifier.verify(await sign(claims(), other))).resolves.toBeDefined();
      expect(keys.status().kids).toEqual([other.kid]);
    });

    it('treats a JWKS without keys as unavailable', async () => {
      fetch.documents.set(JWKS_URL, { keys: [] });
      await expect(verifier.verify(await sign(claims(), key))).rejects.toBeInstanceOf(KeySetUnavailableError);
    });
  });
});
