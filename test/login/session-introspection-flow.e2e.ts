import { ACME, GLOBEX, LEGACY_USERS } from '../fixtures/legacy-app';
import { Browser, formFields, pageText, radioChoices, type Page } from './browser';
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
const CONNECT = '/auth/login/connect';

describe('login bridge, session-introspection strategy (fake legacy app + AuthKit emulator)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ strategy: 'session-introspection' });
  });
  beforeEach(() => {
    h.legacy!.mode = 'normal';
    h.legacy!.setsCookies = true;
  });
  afterAll(() => h.close());

  const legacy = () => h.legacy!;
  const loginUrlOf = (b: Browser) => b.history.findLast((u) => u.includes('/auth/login?external_auth_id='))!;
  const callsFor = (b: Browser) =>
    h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(loginUrlOf(b)));
  const lastAudit = async () => (await h.audit()).at(-1);
  /** Submits the legacy app's own login form. */
  const legacyLogin = (b: Browser, page: Page, who: { email: string; password: string }) =>
    b.submit(page, '/login', { email: who.email, password: who.password }, h.isClientRedirect);
  /** A signed-out browser's way to the legacy login: the "asking to connect" page, then Continue. */
  const throughConnect = async (b: Browser, url = h.authorizeUrl()) => {
    const ask = await b.go(url);
    expect(ask.html).toContain(`action="${CONNECT}"`);
    return b.submit(ask, CONNECT, { action: 'continue' });
  };

  it('tells a signed-out browser first that an AI application is asking to connect, once per flow', async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl('s-0'));
    expect(ask.status).toBe(200);
    expect(ask.url.startsWith(`${h.url}/auth/login?`)).toBe(true);
    const text = pageText(ask.html);
    expect(text).toContain(
      `An AI application is asking to connect to your account at ${new URL(h.url).host}`,
    );
    expect(ask.html).toMatch(/<button type="submit" name="action" value="continue">Continue<\/button>/);
    expect(ask.html).toMatch(/<button type="submit" name="action" value="cancel"[^>]*>Cancel<\/button>/);
    expect(legacy().requests.some((r) => r.includes(new URL(ask.url).search))).toBe(false);

    // Continue: on to the legacy login; the session made there completes without another page.
    const loginPage = await b.submit(ask, CONNECT, { action: 'continue' });
    expect(loginPage.url.startsWith(`${legacy().loginUrl}?`)).toBe(true);
    const end = await legacyLogin(b, loginPage, alice);
    expect(new URL(end.url).searchParams.get('state')).toBe('s-0');
    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: 'u-alice', status: 200 })]);
    const pages = b.history.filter((u) => u.startsWith(h.url));
    expect(pages.map((u) => new URL(u).pathname)).toEqual(['/auth/login', CONNECT, '/auth/login/resume']);
  });

  it('ends the flow on Cancel: nothing completed, audited, the tab says so', async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl());
    const before = await h.loginOutcomes();
    const cancelled = await b.submit(ask, CONNECT, { action: 'cancel' });
    expect(cancelled.status).toBe(200);
    expect(pageText(cancelled.html)).toContain('Nothing was connected');
    expect(grown(before, await h.loginOutcomes())).toEqual({ cancelled: 1 });
    expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'connect_cancelled' });
    expect(b.cookieNames().some((n) => n.startsWith('cbridge_tx_'))).toBe(false);
    // Signing in at the legacy app afterwards does not revive it.
    const { tx } = formFields(ask.html, CONNECT);
    await legacyLogin(b, await b.go(legacy().loginUrl), alice);
    const again = await b.go(`${h.url}/auth/login/resume?tx=${tx}`);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(callsFor(b)).toEqual([]);
  });

  it('keeps the connect step bound to its browser: no CSRF token, a foreign Origin or another browser get 403', async () => {
    const b = new Browser();
    const ask = await b.go(h.authorizeUrl());
    const fields = formFields(ask.html, CONNECT);
    const refused = [
      await b.request(`${h.url}${CONNECT}`, { form: { tx: fields.tx, action: 'continue' } }),
      await b.request(`${h.url}${CONNECT}`, { form: { ...fields, csrf: 'x', action: 'continue' } }),
      await b.request(`${h.url}${CONNECT}`, {
        form: { ...fields, action: 'continue' },
        headers: { Origin: 'https://evil.example' },
      }),
      await new Browser().request(`${h.url}${CONNECT}`, { form: { ...fields, action: 'continue' } }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    for (const r of refused) expect(r.headers.get('location')).toBeNull();
    // The person's own Continue still works afterwards.
    const loginPage = await b.submit(ask, CONNECT, { action: 'continue' });
    expect(loginPage.url.startsWith(`${legacy().loginUrl}?`)).toBe(true);
  });

  it('asks once per flow: back from a legacy login without a session, straight to it again', async () => {
    legacy().setsCookies = false;
    const b = new Browser();
    const loginPage = await throughConnect(b);
    const again = await legacyLogin(b, loginPage, alice);
    expect(again.url.startsWith(`${legacy().loginUrl}?`)).toBe(true);
  });

  it('sends a signed-out browser to the legacy login and back, then to the client with a code', async () => {
    const b = new Browser();
    const loginPage = await throughConnect(b, h.authorizeUrl('s-1'));
    expect(loginPage.url.startsWith(`${legacy().loginUrl}?`)).toBe(true);
    const returnTo = new URL(loginPage.url).searchParams.get('return_to')!;
    expect(returnTo).toMatch(new RegExp(`^${h.url}/auth/login/resume\\?tx=[A-Za-z0-9_-]{22}$`));

    const [outcomes, completions] = [await h.loginOutcomes(), await h.completionResults()];
    const end = await legacyLogin(b, loginPage, alice);
    expect(grown(outcomes, await h.loginOutcomes())).toEqual({ completed: 1 });
    expect(grown(completions, await h.completionResults())).toEqual({ ok: 1 });
    const back = new URL(end.url);
    expect(h.isClientRedirect(end.url)).toBe(true);
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe('s-1');
    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: 'u-alice', status: 200 })]);
    expect(h.emulator.users()).toContainEqual(
      expect.objectContaining({
        externalId: 'u-alice',
        email: alice.email,
        firstName: 'Alice',
        lastName: 'Anderson',
      }),
    );
    expect(await lastAudit()).toMatchObject({
      outcome: 'success',
      legacyUserId: 'u-alice',
      email: alice.email,
    });

    // The external_auth_id never reached the legacy app, nor the bridge's own cookies.
    const ext = externalAuthIdOf(loginUrlOf(b));
    expect(legacy().requests.join('\n')).not.toContain(ext);
    expect(legacy().introspectionCookies.join('\n')).not.toContain('cbridge_');
  });

  it('asks "Continue as" for a legacy session from before the flow', async () => {
    const b = new Browser();
    await legacyLogin(b, await throughConnect(b), alice);
    const confirm = await b.go(h.authorizeUrl('s-2'));
    expect(pageText(confirm.html)).toContain('You are signed in as Alice Anderson (alice@example.com)');
    const end = await b.submit(confirm, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
    expect(new URL(end.url).searchParams.get('state')).toBe('s-2');
  });

  it('"Use another account" goes through the legacy sign-out and completes as the new user', async () => {
    const b = new Browser();
    await legacyLogin(b, await throughConnect(b), alice);
    const confirm = await b.go(h.authorizeUrl());
    const loginPage = await b.submit(confirm, '/auth/login/confirm', { action: 'switch' });
    expect(b.history).toContainEqual(
      expect.stringMatching(new RegExp(`^${legacy().logoutUrl}\\?return_to=`)),
    );
    expect(loginPage.url.startsWith(legacy().loginUrl)).toBe(true);
    await legacyLogin(b, loginPage, bob);
    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: '4242', status: 200 })]);
  });

  it('asks again when the legacy app comes back with the account the person turned down', async () => {
    const b = new Browser();
    await legacyLogin(b, await throughConnect(b), alice);
    const confirm = await b.go(h.authorizeUrl());
    const loginPage = await b.submit(confirm, '/auth/login/confirm', { action: 'switch' });
    const again = await legacyLogin(b, loginPage, alice);
    expect(pageText(again.html)).toContain('You are signed in as Alice Anderson');
    expect(callsFor(b)).toEqual([]);
  });

  it('ignores a return_to smuggled into the Login URI: no open redirect', async () => {
    const b = new Browser();
    await b.go(h.authorizeUrl());
    const loginUrl = loginUrlOf(b);
    const other = new Browser();
    const ask = await other.request(`${loginUrl}&return_to=${encodeURIComponent('https://evil.example/')}`);
    expect(ask.status).toBe(200);
    expect(ask.html).not.toContain('evil.example');
    const page = await other.request(`${h.url}${CONNECT}`, {
      form: { ...formFields(ask.html, CONNECT), action: 'continue' },
    });
    expect(page.status).toBe(303);
    const target = new URL(page.headers.get('location')!);
    expect(target.origin).toBe(legacy().url);
    expect(target.searchParams.get('return_to')!.startsWith(`${h.url}/auth/login/resume?tx=`)).toBe(true);
    const resume = await new Browser().request(
      `${h.url}/auth/login/resume?tx=x&return_to=https://evil.example/`,
    );
    expect(resume.status).toBe(403);
    expect(resume.headers.get('location')).toBeNull();
  });

  it.each([
    ['answers 500', 'down' as const],
    ['answers a redirect', 'redirect' as const],
    ['is slower than LEGACY_TIMEOUT_MS', 'slow' as const],
  ])(
    'shows "unavailable" with a retry link when the legacy app %s, and the retry resumes',
    async (_what, mode) => {
      const b = new Browser();
      await legacyLogin(b, await throughConnect(b), alice);
      legacy().mode = mode;
      legacy().slowMs = 1500;
      const before = await h.loginOutcomes();
      const page = await b.go(h.authorizeUrl());
      expect(grown(before, await h.loginOutcomes())).toEqual({ legacy_unavailable: 1 });
      expect(page.status).toBe(503);
      expect(pageText(page.html)).toContain('The sign-in service is unavailable');
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'legacy_unavailable' });
      const retry = /<a class="button" href="(\/auth\/login\/resume\?tx=[^"]+)">Try again<\/a>/.exec(
        page.html,
      )?.[1];
      expect(retry).toBeDefined();
      expect(callsFor(b)).toEqual([]);

      legacy().mode = 'normal';
      const confirm = await b.go(`${h.url}${retry}`);
      expect(pageText(confirm.html)).toContain('You are signed in as Alice Anderson');
    },
  );

  it('refuses a user JSON it cannot use', async () => {
    const b = new Browser();
    await legacyLogin(b, await throughConnect(b), alice);
    legacy().mode = 'invalid';
    const before = await h.loginOutcomes();
    const page = await b.go(h.authorizeUrl());
    expect(grown(before, await h.loginOutcomes())).toEqual({ legacy_invalid_user: 1 });
    expect(page.status).toBe(502);
    expect(pageText(page.html)).toContain('Your account cannot be used here');
    expect(await lastAudit()).toMatchObject({ errorCode: 'legacy_invalid_user' });
  });

  it('stops a sign-in loop when the legacy session never becomes visible to the bridge', async () => {
    legacy().setsCookies = false;
    const b = new Browser();
    const before = await h.loginOutcomes();
    let page = await throughConnect(b);
    for (let i = 0; i < 5 && page.url.startsWith(legacy().loginUrl); i++)
      page = await legacyLogin(b, page, alice);
    expect(grown(before, await h.loginOutcomes())).toEqual({ legacy_session_not_found: 1 });
    expect(page.status).toBe(400);
    expect(pageText(page.html)).toContain('We could not see your sign-in');
    expect(await lastAudit()).toMatchObject({ errorCode: 'legacy_session_not_found' });
    expect(b.history.filter((u) => u.startsWith(`${legacy().loginUrl}?`))).toHaveLength(3);
  });

  it('does not let another browser resume the flow with the return_to URL', async () => {
    const a = new Browser();
    const loginPage = await throughConnect(a);
    const returnTo = new URL(loginPage.url).searchParams.get('return_to')!;
    const b = new Browser();
    await legacyLogin(b, await throughConnect(b), bob);
    const stolen = await b.go(returnTo);
    expect(stolen.status).toBe(403);
    expect(callsFor(a)).toEqual([]);
  });

  describe('roles and tenants from the introspection answer', () => {
    const linkOf = (legacyUserId: string) =>
      h.prisma.userLink.findUniqueOrThrow({
        where: { legacyUserId },
        select: { roles: true, tenants: true, active: true },
      });

    it('one tenant: no question at consent; the roles and the tenant are kept on the user link', async () => {
      const b = new Browser();
      const { url, verifier } = clientAuthorize(h.emulator.url);
      const end = await legacyLogin(b, await throughConnect(b, url), alice);
      expect(h.isClientRedirect(end.url)).toBe(true);
      const [call] = callsFor(b);
      expect(call).toMatchObject({ userId: 'u-alice', status: 200 });
      expect(call.consentOptions).toBeUndefined();
      await expect(linkOf('u-alice')).resolves.toEqual({ roles: ['admin'], tenants: [ACME], active: true });
      expect(await redeemCode(h.emulator.url, end.url, verifier)).not.toHaveProperty('tenant');
    });

    it('two tenants: AuthKit asks which workspace, and the choice comes back as the token claim tenant', async () => {
      const b = new Browser();
      const { url, verifier } = clientAuthorize(h.emulator.url, { state: 's-t' });
      const consent = await legacyLogin(b, await throughConnect(b, url), carol);
      expect(isConsentPage(consent)).toBe(true);
      expect(consent.url.startsWith(`${h.emulator.issuer}/oauth2/consent?`)).toBe(true);
      expect(consent.html).toContain('<legend>Workspace</legend>');
      expect(radioChoices(consent.html, 'choice_0')).toEqual([
        { value: ACME.id, label: 'Acme' },
        { value: GLOBEX.id, label: 'Globex' },
      ]);
      expect(callsFor(b)).toEqual([
        expect.objectContaining({
          userId: 'u-carol',
          status: 200,
          consentOptions: [
            {
              claim: 'tenant',
              type: 'enum',
              label: 'Workspace',
              choices: [
                { value: ACME.id, label: 'Acme' },
                { value: GLOBEX.id, label: 'Globex' },
              ],
            },
          ],
        }),
      ]);
      await expect(linkOf('u-carol')).resolves.toEqual({
        roles: ['admin', 'reader'],
        tenants: [ACME, GLOBEX],
        active: true,
      });

      const end = await chooseOnConsent(b, consent, 'Workspace', 'Globex', h.isClientRedirect);
      expect(new URL(end.url).searchParams.get('state')).toBe('s-t');
      expect(await redeemCode(h.emulator.url, end.url, verifier)).toMatchObject({ tenant: GLOBEX.id });
    });

    it('the newest sign-in wins: what changed in the legacy app since is recorded, and every instance told', async () => {
      const news = () =>
        h.prisma.grantRevocation.count({ where: { kind: 'identity', legacyUserId: 'u-alice' } });
      const before = await news();
      legacy().setRoles('u-alice', ['auditor']);
      legacy().setTenants('u-alice', [GLOBEX]);
      try {
        const b = new Browser();
        await legacyLogin(b, await throughConnect(b), alice);
        await expect(linkOf('u-alice')).resolves.toEqual({
          roles: ['auditor'],
          tenants: [GLOBEX],
          active: true,
        });
        expect(await news()).toBe(before + 1);
        // The same again: nothing changed, nobody is told.
        const again = new Browser();
        await legacyLogin(again, await throughConnect(again), alice);
        expect(await news()).toBe(before + 1);
        // No roles or tenants in the answer at all: none recorded.
        legacy().setRoles('u-alice', undefined);
        legacy().setTenants('u-alice', undefined);
        const c = new Browser();
        await legacyLogin(c, await throughConnect(c), alice);
        await expect(linkOf('u-alice')).resolves.toEqual({ roles: [], tenants: [], active: true });
      } finally {
        legacy().setRoles('u-alice', ['admin']);
        legacy().setTenants('u-alice', [ACME]);
      }
    });

    it('refuses malformed roles in the answer as an unusable user (the protocol is the bridge own)', async () => {
      const b = new Browser();
      await legacyLogin(b, await throughConnect(b), alice);
      legacy().mode = 'fixed';
      legacy().fixedBody = { id: 'u-alice', email: alice.email, roles: 'admin' };
      const page = await b.go(h.authorizeUrl());
      expect(page.status).toBe(502);
      expect(await lastAudit()).toMatchObject({ errorCode: 'legacy_invalid_user' });
    });
  });
});

describe('login bridge, session-introspection with LOGIN_CONFIRM_CONNECT=false', () => {
  it('sends a signed-out browser straight to the legacy login, and still asks "Continue as" for an older session', async () => {
    const h = await startHarness({
      strategy: 'session-introspection',
      env: { LOGIN_CONFIRM_CONNECT: 'false' },
    });
    try {
      expect(h.config.login.confirmConnect).toBe(false);
      const b = new Browser();
      const loginPage = await b.go(h.authorizeUrl());
      expect(loginPage.url.startsWith(`${h.legacy!.loginUrl}?`)).toBe(true);
      const end = await b.submit(
        loginPage,
        '/login',
        { email: alice.email, password: alice.password },
        h.isClientRedirect,
      );
      expect(h.isClientRedirect(end.url)).toBe(true);
      const confirm = await b.go(h.authorizeUrl());
      expect(pageText(confirm.html)).toContain('You are signed in as Alice Anderson');
    } finally {
      await h.close();
    }
  });
});

describe('login bridge, session-introspection with LEGACY_COOKIE_NAMES', () => {
  it('forwards only the named cookies', async () => {
    const h = await startHarness({
      strategy: 'session-introspection',
      env: { LEGACY_COOKIE_NAMES: 'legacy_sid' },
    });
    try {
      const b = new Browser();
      b.setCookie(h.url, 'unrelated', 'keep-me-private');
      const ask = await b.go(h.authorizeUrl());
      const page = await b.submit(ask, CONNECT, { action: 'continue' });
      const end = await b.submit(
        page,
        '/login',
        { email: LEGACY_USERS[0].email, password: LEGACY_USERS[0].password },
        h.isClientRedirect,
      );
      expect(h.isClientRedirect(end.url)).toBe(true);
      const seen = h.legacy!.introspectionCookies.filter(Boolean);
      expect(seen.length).toBeGreaterThan(0);
      for (const header of seen) expect(header).toMatch(/^legacy_sid=[0-9a-f]+$/);
    } finally {
      await h.close();
    }
  });
});
