import { createLocalJWKSet, errors, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { JwtCookieService, jwtCookieWarnings, type JwtCookieOptions } from './jwt-cookie.service';
import { LegacyInvalidUserError, LegacyUnavailableError } from './legacy-session.errors';

const secret = 's'.repeat(32);
const key = new TextEncoder().encode(secret);

const options = (over: Partial<JwtCookieOptions> = {}): JwtCookieOptions => ({
  cookie: 'session',
  secret,
  algorithms: ['HS256'],
  issuer: 'legacy',
  audience: 'bridge',
  claims: {
    id: 'sub',
    email: 'email',
    firstName: 'given_name',
    lastName: 'family_name',
    roles: 'roles',
    tenants: 'tenants',
  },
  maxAgeSeconds: 86_400,
  timeoutMs: 1000,
  ...over,
});

const now = () => Math.floor(Date.now() / 1000);

async function token(
  claims: Record<string, unknown> = {},
  opts: {
    alg?: string;
    typ?: string;
    /** null: no exp claim at all. */
    exp?: string | number | null;
    /** null: no iat claim at all. */
    iat?: number | null;
    signKey?: Uint8Array;
    iss?: string;
    aud?: string;
  } = {},
) {
  const jwt = new SignJWT({ email: 'a@b.co', given_name: 'Ann', ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', ...(opts.typ ? { typ: opts.typ } : {}) })
    .setSubject('u1')
    .setIssuer(opts.iss ?? 'legacy')
    .setAudience(opts.aud ?? 'bridge');
  if (opts.iat !== null) jwt.setIssuedAt(opts.iat);
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? '10m');
  return jwt.sign(opts.signKey ?? key);
}

describe('JwtCookieService', () => {
  it('maps a valid token in the named cookie to the user', async () => {
    const t = await token();
    await expect(new JwtCookieService(options()).verify(`other=1; session=${t}`)).resolves.toEqual({
      id: 'u1',
      email: 'a@b.co',
      firstName: 'Ann',
    });
  });

  it('uses configured claim names', async () => {
    const t = await token({ uid: 77, mail: 'c@d.co', fn: 'Cy', ln: 'Dee' });
    const s = new JwtCookieService(
      options({
        claims: { id: 'uid', email: 'mail', firstName: 'fn', lastName: 'ln', roles: 'r', tenants: 't' },
      }),
    );
    await expect(s.verify(`session=${t}`)).resolves.toEqual({
      id: '77',
      email: 'c@d.co',
      firstName: 'Cy',
      lastName: 'Dee',
    });
  });

  describe('roles and tenants claims', () => {
    const acme = { id: 't1', name: 'Acme' };
    const globex = { id: 't2', name: 'Globex' };

    it('reads roles and tenants from the configured claims', async () => {
      const t = await token({ roles: ['admin', 'reader', 'admin'], tenants: [acme, globex] });
      await expect(new JwtCookieService(options()).verify(`session=${t}`)).resolves.toEqual({
        id: 'u1',
        email: 'a@b.co',
        firstName: 'Ann',
        roles: ['admin', 'reader'],
        tenants: [acme, globex],
      });
      const renamed = new JwtCookieService(
        options({
          claims: { ...options().claims, roles: 'https://app.example/roles', tenants: 'orgs' },
        }),
      );
      const t2 = await token({ 'https://app.example/roles': ['owner'], orgs: [{ id: 7, name: 'Seven' }] });
      await expect(renamed.verify(`session=${t2}`)).resolves.toMatchObject({
        roles: ['owner'],
        tenants: [{ id: '7', name: 'Seven' }],
      });
    });

    it('says nothing about roles or tenants when the claims are absent', async () => {
      const user = await new JwtCookieService(options()).verify(`session=${await token()}`);
      expect(user).not.toHaveProperty('roles');
      expect(user).not.toHaveProperty('tenants');
    });

    it.each([
      ['a string', 'admin', undefined],
      ['an object', { admin: true }, undefined],
      ['a number', 7, undefined],
      ['null', null, undefined],
      [
        'an array with bad entries',
        ['admin', 'two words', 7, null, '', 'a,b', { r: 1 }, 'reader'],
        ['admin', 'reader'],
      ],
      ['an array of nothing usable', [1, 2, 'x y'], []],
    ])('ignores a roles claim that is %s (the sign-in still works)', async (_what, roles, expected) => {
      const user = await new JwtCookieService(options()).verify(`session=${await token({ roles })}`);
      expect(user).toMatchObject({ id: 'u1', email: 'a@b.co' });
      if (expected === undefined) expect(user).not.toHaveProperty('roles');
      else expect(user!.roles).toEqual(expected);
    });

    it.each([
      ['a string', 'acme', undefined],
      ['an object', acme, undefined],
      [
        'an array with bad entries',
        [
          'acme',
          null,
          7,
          [],
          { id: '' },
          { id: 'x\ny', name: 'X' },
          { name: 'no id' },
          acme,
          { id: 't1', name: 'Dup' },
          globex,
        ],
        [acme, globex],
      ],
      ['an array with a nameless tenant', [{ id: 't3' }], []],
      ['an array with a blank name', [{ id: 't3', name: ' ' }], [{ id: 't3', name: 't3' }]],
    ])('ignores what is unusable in a tenants claim that is %s', async (_what, tenants, expected) => {
      const user = await new JwtCookieService(options()).verify(`session=${await token({ tenants })}`);
      expect(user).toMatchObject({ id: 'u1' });
      if (expected === undefined) expect(user).not.toHaveProperty('tenants');
      else expect(user!.tenants).toEqual(expected);
    });

    it('keeps at most 100 roles and tenants from a huge claim', async () => {
      const roles = Array.from({ length: 120 }, (_, i) => `r${i}`);
      const tenants = Array.from({ length: 120 }, (_, i) => ({ id: `${i}`, name: `${i}` }));
      const user = await new JwtCookieService(options()).verify(`session=${await token({ roles, tenants })}`);
      expect(user!.roles).toHaveLength(100);
      expect(user!.tenants).toHaveLength(100);
    });
  });

  it('answers null without the cookie', async () => {
    await expect(new JwtCookieService(options()).verify('other=1')).resolves.toBeNull();
    await expect(new JwtCookieService(options()).verify(undefined)).resolves.toBeNull();
  });

  it.each([
    ['expired', () => token({}, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['signed with another secret', () => token({}, { signKey: new TextEncoder().encode('x'.repeat(32)) })],
    ['of an algorithm not pinned', () => token({}, { alg: 'HS512' })],
    ['from another issuer', () => token({}, { iss: 'evil' })],
    ['for another audience', () => token({}, { aud: 'other' })],
    ['garbage', async () => 'not.a.jwt'],
    [
      'unsigned (alg none)',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"u1","email":"a@b.co"}').toString('base64url')}.`,
    ],
    ['oversized', async () => 'a'.repeat(9000)],
    ['that never expires (no exp)', () => token({}, { exp: null })],
    ['without iat (its age is unknown)', () => token({}, { iat: null })],
    [
      'issued longer ago than the max age, though exp is far away',
      () => token({}, { iat: now() - 86_400 - 60, exp: now() + 10 * 365 * 86_400 }),
    ],
    ['issued in the future', () => token({}, { iat: now() + 3600, exp: now() + 7200 })],
    ['with exp as a string', () => token({ exp: String(now() + 600) }, { exp: null })],
    ['with iat as a string', () => token({ iat: String(now()) }, { iat: null })],
  ])('answers null (not signed in) for a token %s', async (_what, make) => {
    await expect(new JwtCookieService(options()).verify(`session=${await make()}`)).resolves.toBeNull();
  });

  it('accepts a token up to LEGACY_JWT_MAX_AGE_SECONDS after its iat (5 s of skew), not after', async () => {
    const s = new JwtCookieService(options({ maxAgeSeconds: 3600 }));
    const young = await token({}, { iat: now() - 3590, exp: now() + 600 });
    await expect(s.verify(`session=${young}`)).resolves.toMatchObject({ id: 'u1' });
    const old = await token({}, { iat: now() - 3620, exp: now() + 600 });
    await expect(s.verify(`session=${old}`)).resolves.toBeNull();
  });

  it('checks the typ header only when LEGACY_JWT_TYP is set', async () => {
    const plain = await token();
    const typed = await token({}, { typ: 'legacy-session+jwt' });
    const idToken = await token({}, { typ: 'JWT' });
    // unset: not checked
    await expect(new JwtCookieService(options()).verify(`session=${plain}`)).resolves.not.toBeNull();
    await expect(new JwtCookieService(options()).verify(`session=${idToken}`)).resolves.not.toBeNull();
    // set: required, and equal (jose compares media types case-insensitively, application/ optional)
    const strict = new JwtCookieService(options({ typ: 'legacy-session+jwt' }));
    await expect(strict.verify(`session=${typed}`)).resolves.toMatchObject({ id: 'u1' });
    await expect(strict.verify(`session=${plain}`)).resolves.toBeNull();
    await expect(strict.verify(`session=${idToken}`)).resolves.toBeNull();
  });

  it('warns (outside production) when neither issuer nor audience pins the token to this bridge', () => {
    expect(jwtCookieWarnings(options())).toEqual([]);
    const none = jwtCookieWarnings(options({ issuer: undefined, audience: undefined }));
    expect(none).toHaveLength(1);
    expect(none[0]).toMatch(/LEGACY_JWT_ISSUER.*LEGACY_JWT_AUDIENCE/s);
    expect(jwtCookieWarnings(options({ audience: undefined }))).toEqual([
      expect.stringMatching(/LEGACY_JWT_AUDIENCE/),
    ]);
  });

  it('refuses a valid token without the mapped email', async () => {
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('legacy')
      .setAudience('bridge')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    await expect(new JwtCookieService(options()).verify(`session=${t}`)).rejects.toBeInstanceOf(
      LegacyInvalidUserError,
    );
  });

  it('verifies asymmetric tokens against a key set', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const jwks = createLocalJWKSet({ keys: [jwk] });
    const t = await new SignJWT({ email: 'a@b.co' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('u1')
      .setIssuer('legacy')
      .setAudience('bridge')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const s = new JwtCookieService(
      options({ secret: undefined, jwksUrl: 'https://legacy.test/jwks', algorithms: ['ES256'] }),
      jwks,
    );
    await expect(s.verify(`session=${t}`)).resolves.toMatchObject({ id: 'u1' });
  });

  it('treats a key set that cannot be fetched as the legacy app unavailable', async () => {
    const t = await token();
    const failing = (async () => {
      throw new errors.JWKSTimeout();
    }) as unknown as JWTVerifyGetKey;
    const s = new JwtCookieService(
      options({ secret: undefined, jwksUrl: 'https://legacy.test/jwks' }),
      failing,
    );
    await expect(s.verify(`session=${t}`)).rejects.toBeInstanceOf(LegacyUnavailableError);
    const broken = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as JWTVerifyGetKey;
    const s2 = new JwtCookieService(
      options({ secret: undefined, jwksUrl: 'https://legacy.test/jwks' }),
      broken,
    );
    await expect(s2.verify(`session=${t}`)).rejects.toThrow(/could not be fetched/);
  });
});
