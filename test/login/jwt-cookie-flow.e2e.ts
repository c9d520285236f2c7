import { SignJWT } from 'jose';
import { ACME, GLOBEX, LEGACY_USERS } from '../fixtures/legacy-app';
import { Browser, pageText, radioChoices } from './browser';
import {
  chooseOnConsent,
  clientAuthorize,
  externalAuthIdOf,
  grown,
  isConsentPage,
  redeemCode,
  startHarness,
  type Harness,
} from './harness';

const [alice, bob, carol] = LEGACY_USERS;

describe('login bridge, jwt-cookie strategy (fake legacy app + AuthKit emulator)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ strategy: 'jwt-cookie' });
  });
  afterAll(() => h.close());

  const loginUrlOf = (b: Browser) => b.history.findLast((u) => u.includes('/auth/login?external_auth_id='))!;
  const callsFor = (b: Browser) =>
    h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(loginUrlOf(b)));
  const signJwt = (
    claims: Record<string, unknown>,
    secret = h.legacy!.jwtSecret,
    expiresIn: string | null = '1h',
    issuedAt: number | null = Math.floor(Date.now() / 1000),
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('legacy-app')
      .setAudience('connect-bridge');
    if (issuedAt !== null) jwt.setIssuedAt(issuedAt);
    if (expiresIn !== null) jwt.setExpirationTime(expiresIn);
    return jwt.sign(new TextEncoder().encode(secret));
  };
  const now = () => Math.floor(Date.now() / 1000);

  it('goes through the legacy login and completes with the user in the JWT cookie', async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl('j-1'));
    expect(pageText(ask.html)).toContain('An AI application is asking to connect to your account');
    const loginPage = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
    expect(loginPage.url.startsWith(`${h.legacy!.loginUrl}?return_to=`)).toBe(true);
    const before = await h.loginOutcomes();
    const end = await b.submit(
      loginPage,
      '/login',
      { email: bob.email, password: bob.password },
      h.isClientRedirect,
    );
    expect(new URL(end.url).searchParams.get('state')).toBe('j-1');
    expect(grown(before, await h.loginOutcomes())).toEqual({ completed: 1 }); // strategy="jwt-cookie"
    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: '4242', status: 200 })]);
    expect(h.emulator.users()).toContainEqual(
      expect.objectContaining({ externalId: '4242', email: bob.email, firstName: 'Bob' }),
    );
    expect(h.legacy!.introspectionCookies).toEqual([]); // no call to the legacy app: the cookie is enough
  });

  it('asks "Continue as" for a valid JWT from before the flow', async () => {
    const b = new Browser();
    b.setCookie(
      h.url,
      'legacy_jwt',
      await signJwt({ sub: 'u-alice', email: alice.email, given_name: 'Alice' }),
    );
    const confirm = await b.go(h.authorizeUrl());
    expect(pageText(confirm.html)).toContain('You are signed in as Alice (alice@example.com)');
    const end = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
    expect(h.isClientRedirect(end.url)).toBe(true);
  });

  it.each([
    [
      'a forged signature',
      () => signJwt({ sub: 'u-evil', email: 'evil@example.com' }, 'not-the-secret-'.repeat(3)),
    ],
    ['an expired token', () => signJwt({ sub: 'u-alice', email: alice.email }, undefined, '-1h')],
    ['a token that never expires', () => signJwt({ sub: 'u-alice', email: alice.email }, undefined, null)],
    ['a token without iat', () => signJwt({ sub: 'u-alice', email: alice.email }, undefined, '1h', null)],
    [
      'a token issued more than LEGACY_JWT_MAX_AGE_SECONDS (default a day) ago',
      () => signJwt({ sub: 'u-alice', email: alice.email }, undefined, '10y', now() - 86_400 - 60),
    ],
    ['garbage', async () => 'garbage'],
  ])('treats %s as signed out and sends the browser to the legacy login', async (_what, make) => {
    const b = new Browser();
    b.setCookie(h.url, 'legacy_jwt', await make());
    const before = await h.loginOutcomes();
    const ask = await b.go(h.authorizeUrl());
    expect(ask.html).toContain('action="/auth/login/connect"');
    const page = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
    expect(page.url.startsWith(`${h.legacy!.loginUrl}?return_to=`)).toBe(true);
    expect(callsFor(b)).toEqual([]);
    expect(grown(before, await h.loginOutcomes())).toEqual({}); // not an ending: on to the legacy login
  });

  describe('roles and tenants from the JWT claims', () => {
    const linkOf = (legacyUserId: string) =>
      h.prisma.userLink.findUniqueOrThrow({
        where: { legacyUserId },
        select: { roles: true, tenants: true },
      });
    /** Through the connect page and the legacy login as `who`, from a fresh browser. */
    const signIn = async (who: { email: string; password: string }, url = h.authorizeUrl()) => {
      const b = new Browser();
      const ask = await b.go(url);
      const loginPage = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
      const end = await b.submit(
        loginPage,
        '/login',
        { email: who.email, password: who.password },
        h.isClientRedirect,
      );
      return { b, end };
    };

    it('records the roles of the cookie (no tenants claim: none) and asks nothing at consent', async () => {
      const { b, end } = await signIn(bob);
      expect(h.isClientRedirect(end.url)).toBe(true);
      expect(callsFor(b)[0].consentOptions).toBeUndefined();
      await expect(linkOf('4242')).resolves.toEqual({ roles: ['reader'], tenants: [] });
    });

    it('two tenants in the cookie: AuthKit asks which workspace; the choice is the token claim tenant', async () => {
      const { url, verifier } = clientAuthorize(h.emulator.url);
      const { b, end: consent } = await signIn(carol, url);
      expect(isConsentPage(consent)).toBe(true);
      expect(radioChoices(consent.html, 'choice_0').map((c) => c.label)).toEqual(['Acme', 'Globex']);
      expect(callsFor(b)[0].consentOptions).toEqual([
        expect.objectContaining({ claim: 'tenant', label: 'Workspace' }),
      ]);
      await expect(linkOf('u-carol')).resolves.toEqual({
        roles: ['admin', 'reader'],
        tenants: [ACME, GLOBEX],
      });
      const end = await chooseOnConsent(b, consent, 'Workspace', 'Acme', h.isClientRedirect);
      expect(await redeemCode(h.emulator.url, end.url, verifier)).toMatchObject({ tenant: ACME.id });
    });

    it('ignores malformed role and tenant claims: the sign-in completes with what is usable', async () => {
      const b = new Browser();
      b.setCookie(
        h.url,
        'legacy_jwt',
        await signJwt({
          sub: 'u-alice',
          email: alice.email,
          roles: 'admin',
          tenants: [{ id: ACME.id, name: 'Acme' }, 'globex', { name: 'no id' }],
        }),
      );
      const confirm = await b.go(h.authorizeUrl());
      const end = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
      expect(h.isClientRedirect(end.url)).toBe(true);
      await expect(linkOf('u-alice')).resolves.toEqual({ roles: [], tenants: [ACME] });
    });
  });
});

describe('jwt-cookie strategy settings', () => {
  it('checks the typ header when LEGACY_JWT_TYP is set (the fixture issues typ-less tokens: signed out)', async () => {
    const h = await startHarness({ strategy: 'jwt-cookie', env: { LEGACY_JWT_TYP: 'legacy-session+jwt' } });
    try {
      const sign = (typ?: string) =>
        new SignJWT({ sub: 'u-alice', email: alice.email, given_name: 'Alice' })
          .setProtectedHeader({ alg: 'HS256', ...(typ ? { typ } : {}) })
          .setIssuer('legacy-app')
          .setAudience('connect-bridge')
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(h.legacy!.jwtSecret));
      for (const [typ, signedIn] of [
        [undefined, false],
        ['JWT', false],
        ['at+jwt', false],
        ['legacy-session+jwt', true],
      ] as const) {
        const b = new Browser();
        b.setCookie(h.url, 'legacy_jwt', await sign(typ));
        const page = await b.go(h.authorizeUrl());
        if (signedIn) expect(pageText(page.html)).toContain('You are signed in as Alice');
        else expect(page.html).toContain('action="/auth/login/connect"'); // signed out: asked first
      }
    } finally {
      await h.close();
    }
  });
});
