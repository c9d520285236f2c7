import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { LoginMaintenanceService } from '../../src/login/login-maintenance.service';
import { RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { LogCapture } from '../helpers/app';
import { Browser, formFields, pageText, radioChoices, type Page } from './browser';
import {
  CLIENT_REDIRECT,
  chooseOnConsent,
  clientAuthorize,
  externalAuthIdOf,
  grown,
  isConsentPage,
  redeemCode,
  scrape,
  startHarness,
  type Harness,
} from './harness';

const LOCAL_FORM = '/auth/login/local';
const CONFIRM = '/auth/login/confirm';
const CONNECT = '/auth/login/connect';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('login bridge, local strategy (through the AuthKit emulator)', () => {
  let h: Harness;
  let users: Record<'carol' | 'erin' | 'dave', { id: string; email: string; password: string }>;
  const logs = new LogCapture();

  beforeAll(async () => {
    // Every request of this suite comes from 127.0.0.1: the per-IP limit is lifted (configured as an
    // operator would); the rate-limit test runs its own bridge with lower limits.
    h = await startHarness({ strategy: 'local', logs, env: { LOGIN_RATE_LIMIT_PER_IP: '10000' } });
    const local = h.app.get(LocalUsersService);
    const make = async (name: string, disabled = false) => {
      const email = `${name}@example.com`;
      const password = `${name}-password-1`;
      const u = await local.create({
        email,
        password,
        firstName: name[0].toUpperCase() + name.slice(1),
        lastName: 'Example',
      });
      if (disabled) await h.prisma.localUser.update({ where: { id: u.id }, data: { disabled: true } });
      return { id: u.id, email, password };
    };
    users = { carol: await make('carol'), erin: await make('erin'), dave: await make('dave', true) };
  });
  afterAll(() => h.close());

  /** Opens an authorize URL and follows it to the bridge's first page. */
  const begin = (b: Browser, state?: string) => b.go(h.authorizeUrl(state));
  const loginUrlOf = (b: Browser) => b.history.findLast((u) => u.includes('/auth/login?external_auth_id='))!;
  const signIn = (b: Browser, page: Page, who: { email: string; password: string }) =>
    b.submit(page, LOCAL_FORM, { email: who.email, password: who.password }, h.isClientRedirect);
  const lastAudit = async () => (await h.audit()).at(-1);
  const callsFor = (b: Browser) =>
    h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(loginUrlOf(b)));
  /** Runs `act`; answers how login_outcomes_total and the completion timings grew meanwhile. */
  const metricsDuring = async (act: () => Promise<unknown>) => {
    const [outcomes, completions] = [await h.loginOutcomes(), await h.completionResults()];
    await act();
    return {
      outcomes: grown(outcomes, await h.loginOutcomes()),
      completions: grown(completions, await h.completionResults()),
    };
  };

  it('takes a browser from authorize through the sign-in form to the client redirect with a code', async () => {
    const b = new Browser();
    const form = await begin(b, 'state-1');
    expect(form.status).toBe(200);
    expect(pageText(form.html)).toContain('Sign in to continue');
    expect(b.cookieNames().some((n) => n.startsWith('cbridge_tx_'))).toBe(true);

    let end!: Page;
    const metrics = await metricsDuring(async () => (end = await signIn(b, form, users.carol)));
    expect(metrics).toEqual({ outcomes: { completed: 1 }, completions: { ok: 1 } });
    expect(end.url.startsWith(`${CLIENT_REDIRECT}?`)).toBe(true);
    const back = new URL(end.url);
    expect(back.searchParams.get('code')).toMatch(/.{16,}/);
    expect(back.searchParams.get('state')).toBe('state-1');

    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: users.carol.id, status: 200 })]);
    expect(h.emulator.users()).toContainEqual(
      expect.objectContaining({ externalId: users.carol.id, email: users.carol.email, firstName: 'Carol' }),
    );
    const row = await lastAudit();
    expect(row).toMatchObject({
      outcome: 'success',
      errorCode: null,
      legacyUserId: users.carol.id,
      email: users.carol.email,
    });
    expect(row!.externalAuthIdHint).toMatch(/…/);
    expect(row!.externalAuthIdHint).not.toBe(externalAuthIdOf(loginUrlOf(b)));
    await expect(
      h.prisma.userLink.findUnique({ where: { legacyUserId: users.carol.id } }),
    ).resolves.toMatchObject({
      email: users.carol.email,
      firstName: 'Carol',
    });
    // The transaction cookie is gone, the bridge session stays.
    expect(b.cookieNames()).toContain('cbridge_session');
    expect(b.cookieNames().some((n) => n.startsWith('cbridge_tx_'))).toBe(false);
  });

  it('asks "Continue as" when the session existed before the flow, then completes', async () => {
    const b = new Browser();
    await signIn(b, await begin(b), users.carol);
    const confirm = await begin(b, 'state-2');
    expect(confirm.status).toBe(200);
    expect(pageText(confirm.html)).toContain('You are signed in as Carol Example (carol@example.com)');
    expect(pageText(confirm.html)).toContain('Use another account');
    expect(
      h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(b.history.at(-1)!)),
    ).toEqual([]);

    const end = await b.submit(confirm, CONFIRM, { action: 'continue' }, h.isClientRedirect);
    expect(new URL(end.url).searchParams.get('state')).toBe('state-2');
  });

  it('"Use another account" signs the session out and completes as the person who signs in', async () => {
    const b = new Browser();
    await signIn(b, await begin(b), users.carol);
    const oldSession = b.cookiesFor(`${h.url}/auth/login`).cbridge_session;
    const confirm = await begin(b);
    const form = await b.submit(confirm, CONFIRM, { action: 'switch' });
    expect(form.status).toBe(200);
    expect(pageText(form.html)).toContain('Sign in to continue');
    expect(b.cookiesFor(`${h.url}/auth/login`).cbridge_session).toBeUndefined();
    expect(await h.prisma.httpSession.count({ where: { idHash: { not: '' } } })).toBeGreaterThan(0);

    const end = await signIn(b, form, users.erin);
    expect(h.isClientRedirect(end.url)).toBe(true);
    expect(callsFor(b)).toEqual([expect.objectContaining({ userId: users.erin.id, status: 200 })]);
    expect(b.cookiesFor(`${h.url}/auth/login`).cbridge_session).not.toBe(oldSession);
  });

  it('says on the sign-in form who is asking to connect where, and lets the person cancel', async () => {
    const b = new Browser();
    const form = await begin(b);
    expect(pageText(form.html)).toContain(
      `An AI application is asking to connect to your account at ${new URL(h.url).host}`,
    );
    expect(form.html).toMatch(/<button type="submit" name="action" value="cancel"[^>]*>Cancel<\/button>/);
    const { tx } = formFields(form.html, LOCAL_FORM);
    expect(formFields(form.html, CONNECT).tx).toBe(tx);
    let cancelled!: Page;
    const metrics = await metricsDuring(
      async () => (cancelled = await b.submit(form, CONNECT, { action: 'cancel' })),
    );
    expect(metrics).toEqual({ outcomes: { cancelled: 1 }, completions: {} });
    expect(cancelled.status).toBe(200);
    expect(pageText(cancelled.html)).toContain('Nothing was connected');
    expect(await lastAudit()).toMatchObject({
      outcome: 'failure',
      errorCode: 'connect_cancelled',
      transactionId: tx,
    });
    // The form of the cancelled flow signs nobody in.
    const late = await b.request(`${h.url}${LOCAL_FORM}`, {
      form: {
        ...formFields(form.html, LOCAL_FORM),
        email: users.carol.email,
        password: users.carol.password,
      },
    });
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect(callsFor(b)).toEqual([]);
    await expect(h.prisma.loginTransaction.findUnique({ where: { id: tx } })).resolves.toMatchObject({
      status: 'failed',
      errorCode: 'connect_cancelled',
      externalAuthId: null,
    });
  });

  it('offers Cancel on "Continue as" too', async () => {
    const b = new Browser();
    await signIn(b, await begin(b), users.carol);
    const confirm = await begin(b);
    expect(pageText(confirm.html)).toContain(`asking to connect to your account at ${new URL(h.url).host}`);
    const cancelled = await b.submit(confirm, CONFIRM, { action: 'cancel' });
    expect(cancelled.status).toBe(200);
    expect(pageText(cancelled.html)).toContain('Nothing was connected');
    expect(callsFor(b)).toEqual([]);
    expect(await lastAudit()).toMatchObject({ errorCode: 'connect_cancelled', legacyUserId: null });
  });

  it('does not cancel a flow whose completion is in flight (another tab said Continue), only an abandoned one', async () => {
    const b = new Browser();
    await signIn(b, await begin(b), users.carol);
    const confirm = await begin(b);
    const { tx } = formFields(confirm.html, CONFIRM);
    // As if another tab's "Continue as" had claimed the transaction a moment ago.
    await h.prisma.loginTransaction.update({ where: { id: tx }, data: { completingAt: new Date() } });
    const busy = await b.submit(confirm, CONFIRM, { action: 'cancel' });
    expect(busy.status).toBe(409);
    expect(pageText(busy.html)).toContain('Your sign-in is being finished');
    expect((await h.prisma.loginTransaction.findUniqueOrThrow({ where: { id: tx } })).status).toBe('pending');
    // A claim left by an instance that died long ago does not hold the person's Cancel.
    await h.prisma.loginTransaction.update({
      where: { id: tx },
      data: { completingAt: new Date(Date.now() - 3_600_000) },
    });
    const cancelled = await b.submit(confirm, CONFIRM, { action: 'cancel' });
    expect(pageText(cancelled.html)).toContain('Nothing was connected');
    expect(callsFor(b)).toEqual([]);
  });

  it('keeps only a SHA-256 of the external_auth_id once a flow has ended, and still refuses its replay', async () => {
    const txOf = (page: Page) => formFields(page.html, LOCAL_FORM).tx;
    const row = (id: string) => h.prisma.loginTransaction.findUniqueOrThrow({ where: { id } });

    // Pending: the id is needed for the completion, so it is there (with its hash).
    const b = new Browser();
    const form = await begin(b);
    const ext = externalAuthIdOf(loginUrlOf(b));
    expect(await row(txOf(form))).toMatchObject({
      status: 'pending',
      externalAuthId: ext,
      externalAuthIdHash: sha256(ext),
    });
    // Completed: the hash only; a replay, in this browser or another, is still refused.
    await signIn(b, form, users.carol);
    expect(await row(txOf(form))).toMatchObject({
      status: 'completed',
      externalAuthId: null,
      externalAuthIdHash: sha256(ext),
    });
    expect((await b.request(loginUrlOf(b))).status).toBe(409);
    expect((await new Browser().request(loginUrlOf(b))).status).toBe(409);
    expect(callsFor(b)).toHaveLength(1);

    // Failed (AuthKit refused): the hash only.
    const failed = new Browser();
    const failedForm = await begin(failed);
    h.emulator.injectCompletionFault({ status: 400, body: { code: 'invalid_email', message: 'refused' } });
    await signIn(failed, failedForm, users.carol);
    expect(await row(txOf(failedForm))).toMatchObject({ status: 'failed', externalAuthId: null });

    // Expired, noticed by the housekeeping sweep (nobody came back): the hash only.
    const abandoned = new Browser();
    const abandonedForm = await begin(abandoned);
    await h.prisma.loginTransaction.update({
      where: { id: txOf(abandonedForm) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await h.app.get(LoginMaintenanceService).sweep();
    expect(await row(txOf(abandonedForm))).toMatchObject({ status: 'expired', externalAuthId: null });
    expect(
      await h.prisma.loginTransaction.count({
        where: { status: { not: 'pending' }, externalAuthId: { not: null } },
      }),
    ).toBe(0);
  });

  it('answers a wrong password and an unknown email alike, and audits and counts both', async () => {
    const b = new Browser();
    const form = await begin(b);
    let wrong!: Page, unknown!: Page;
    const metrics = await metricsDuring(async () => {
      wrong = await b.submit(form, LOCAL_FORM, { email: users.carol.email, password: 'nope-nope' });
      unknown = await b.submit(form, LOCAL_FORM, { email: 'nobody@example.com', password: 'nope-nope' });
    });
    expect(metrics).toEqual({ outcomes: { invalid_credentials: 2 }, completions: {} });
    for (const page of [wrong, unknown]) {
      expect(page.status).toBe(401);
      expect(pageText(page.html)).toContain('That email and password do not match an account.');
      expect(page.html).toContain('role="alert"');
    }
    expect(formFields(unknown.html, LOCAL_FORM).tx).toBe(formFields(form.html, LOCAL_FORM).tx);
    const rows = (await h.audit()).slice(-2);
    expect(rows).toEqual([
      expect.objectContaining({
        outcome: 'failure',
        errorCode: 'invalid_credentials',
        email: users.carol.email,
      }),
      expect.objectContaining({
        outcome: 'failure',
        errorCode: 'invalid_credentials',
        email: 'nobody@example.com',
      }),
    ]);
    expect(callsFor(b)).toEqual([]);
    // The same form still works with the right password.
    expect(h.isClientRedirect((await signIn(b, form, users.carol)).url)).toBe(true);
  });

  it('refuses a disabled user with a page that says so', async () => {
    const b = new Browser();
    const form = await begin(b);
    let page!: Page;
    const metrics = await metricsDuring(async () => (page = await signIn(b, form, users.dave)));
    expect(metrics).toEqual({ outcomes: { account_disabled: 1 }, completions: {} });
    expect(page.status).toBe(403);
    expect(pageText(page.html)).toContain('This account is disabled');
    expect(await lastAudit()).toMatchObject({
      outcome: 'failure',
      errorCode: 'user_disabled',
      legacyUserId: users.dave.id,
    });
    expect(b.cookieNames()).not.toContain('cbridge_session');
    expect(callsFor(b)).toEqual([]);
  });

  describe('roles and tenants of the user table', () => {
    const acme = { id: 'acme', name: 'Acme' };
    const globex = { id: 'globex', name: 'Globex' };
    let fay: { id: string; email: string; password: string };
    let gus: { id: string; email: string; password: string };

    beforeAll(async () => {
      const local = h.app.get(LocalUsersService);
      const make = async (name: string, roles: string[], tenants: Array<{ id: string; name: string }>) => {
        const email = `${name}@example.com`;
        const password = `${name}-password-1`;
        const u = await local.create({ email, password, roles, tenants });
        return { id: u.id, email, password };
      };
      fay = await make('fay', ['admin', 'billing'], [acme, globex]);
      gus = await make('gus', ['reader'], [acme]);
    });

    const linkOf = (legacyUserId: string) =>
      h.prisma.userLink.findUniqueOrThrow({
        where: { legacyUserId },
        select: { roles: true, tenants: true },
      });

    it('one tenant: records roles and tenant, sends no consent option, the token has no tenant claim', async () => {
      const b = new Browser();
      const { url, verifier } = clientAuthorize(h.emulator.url);
      const end = await signIn(b, await b.go(url), gus);
      expect(h.isClientRedirect(end.url)).toBe(true);
      expect(callsFor(b)).toEqual([expect.objectContaining({ userId: gus.id, status: 200 })]);
      expect(callsFor(b)[0].consentOptions).toBeUndefined();
      await expect(linkOf(gus.id)).resolves.toEqual({ roles: ['reader'], tenants: [acme] });
      expect(await redeemCode(h.emulator.url, end.url, verifier)).not.toHaveProperty('tenant');
    });

    it('two tenants: the consent page asks for the workspace; the choice is the token claim tenant', async () => {
      const b = new Browser();
      const { url, verifier } = clientAuthorize(h.emulator.url);
      const consent = await signIn(b, await b.go(url), fay);
      expect(isConsentPage(consent)).toBe(true);
      expect(radioChoices(consent.html, 'choice_0')).toEqual([
        { value: 'acme', label: 'Acme' },
        { value: 'globex', label: 'Globex' },
      ]);
      expect(callsFor(b)[0].consentOptions).toEqual([
        {
          claim: 'tenant',
          type: 'enum',
          label: 'Workspace',
          choices: [
            { value: 'acme', label: 'Acme' },
            { value: 'globex', label: 'Globex' },
          ],
        },
      ]);
      await expect(linkOf(fay.id)).resolves.toEqual({ roles: ['admin', 'billing'], tenants: [acme, globex] });
      const end = await chooseOnConsent(b, consent, 'Workspace', 'Globex', h.isClientRedirect);
      expect(await redeemCode(h.emulator.url, end.url, verifier)).toMatchObject({ tenant: 'globex' });

      // "Continue as" later: asked again (each authorization chooses its own workspace).
      const again = clientAuthorize(h.emulator.url);
      const confirm = await b.go(again.url);
      const consent2 = await b.submit(confirm, CONFIRM, { action: 'continue' }, h.isClientRedirect);
      expect(isConsentPage(consent2)).toBe(true);
      const end2 = await chooseOnConsent(b, consent2, 'Workspace', 'Acme', h.isClientRedirect);
      expect(await redeemCode(h.emulator.url, end2.url, again.verifier)).toMatchObject({ tenant: 'acme' });
    });
  });

  it('rate-limits sign-ins per account and per IP as configured (LOGIN_RATE_LIMIT_*)', async () => {
    const limited = await startHarness({
      strategy: 'local',
      env: {
        LOGIN_RATE_LIMIT_PER_IP: '5',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '3',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '120',
      },
    });
    try {
      const erin = { email: 'erin@example.com', password: 'erin-password-1' };
      await limited.app.get(LocalUsersService).create(erin);
      const b = new Browser();
      const form = await b.go(limited.authorizeUrl());
      for (let i = 0; i < 3; i++) {
        expect((await b.submit(form, LOCAL_FORM, { email: erin.email, password: 'bad-guess' })).status).toBe(
          401,
        );
      }
      // The fourth attempt at the account is refused before the (right) password is checked.
      const locked = await b.submit(form, LOCAL_FORM, erin);
      expect(locked.status).toBe(429);
      const retryAfter = Number(locked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(120);
      expect(pageText(locked.html)).toMatch(/Too many sign-in attempts\. Try again in \d+ minutes?\./);
      expect((await limited.audit()).at(-1)).toMatchObject({ outcome: 'failure', errorCode: 'rate_limited' });

      // Other accounts still work from this IP until the per-IP limit (5) is spent.
      expect(
        (await b.submit(form, LOCAL_FORM, { email: 'x@example.com', password: 'bad-guess' })).status,
      ).toBe(401);
      expect(
        (await b.submit(form, LOCAL_FORM, { email: 'y@example.com', password: 'bad-guess' })).status,
      ).toBe(429);
      const counters = await limited.prisma.rateLimitCounter.findMany();
      expect(counters.map((c) => c.key).join(' ')).not.toMatch(/example\.com|127\.0\.0\.1/);
    } finally {
      await limited.close();
    }
  });

  it('counts every visit the Login URI rate limit refuses, though only the first is audited', async () => {
    const limiter = h.app.get(RateLimiterService);
    const saved = limiter.limits;
    limiter.limits = { ...saved, loginStartPerIp: { limit: 2, windowSeconds: 900 } };
    await h.prisma.rateLimitCounter.deleteMany();
    try {
      const auditRows = (await h.audit()).length;
      const statuses: number[] = [];
      const metrics = await metricsDuring(async () => {
        for (let i = 0; i < 5; i++) {
          statuses.push(
            (await new Browser().request(`${h.url}/auth/login?external_auth_id=abcd${i}`)).status,
          );
        }
      });
      expect(statuses).toEqual([200, 200, 429, 429, 429]);
      expect(metrics).toEqual({ outcomes: { rate_limited: 3 }, completions: {} });
      expect((await h.audit()).slice(auditRows)).toEqual([
        expect.objectContaining({ outcome: 'failure', errorCode: 'rate_limited' }),
      ]);
    } finally {
      limiter.limits = saved;
      await h.prisma.rateLimitCounter.deleteMany();
    }
  });

  describe('security', () => {
    it('refuses login CSRF: a forged sign-in post never signs the browser in', async () => {
      // No transaction at all (a cross-site form aimed at the sign-in route).
      const victim = new Browser();
      const before = await h.loginOutcomes();
      const forged = await victim.request(`${h.url}${LOCAL_FORM}`, {
        method: 'POST',
        form: { email: users.carol.email, password: users.carol.password },
      });
      expect(forged.status).toBe(403);
      expect(pageText(forged.html)).toContain('This sign-in cannot continue here');

      // The victim's own transaction, but without its CSRF token, or from another origin.
      const form = await begin(victim);
      const fields = formFields(form.html, LOCAL_FORM);
      const noToken = await victim.request(`${h.url}${LOCAL_FORM}`, {
        method: 'POST',
        form: { tx: fields.tx, csrf: 'forged', email: users.carol.email, password: users.carol.password },
      });
      expect(noToken.status).toBe(403);
      expect(pageText(noToken.html)).toContain('This form has expired');
      const crossOrigin = await victim.request(`${h.url}${LOCAL_FORM}`, {
        method: 'POST',
        headers: { Origin: 'https://evil.example' },
        form: { ...fields, email: users.carol.email, password: users.carol.password },
      });
      expect(crossOrigin.status).toBe(403);
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'csrf_failed' });
      expect(grown(before, await h.loginOutcomes())).toEqual({
        expired_or_unknown_transaction: 1,
        csrf_rejected: 2,
      });
      expect(victim.cookieNames()).not.toContain('cbridge_session');
      expect(callsFor(victim)).toEqual([]);
    });

    it('prevents session fixation: a planted session id is never promoted by a sign-in', async () => {
      const attacker = new Browser();
      await signIn(attacker, await begin(attacker), users.erin);
      const planted = attacker.cookiesFor(`${h.url}/auth/login`).cbridge_session;
      expect(planted).toBeTruthy();

      const victim = new Browser();
      victim.setCookie(h.url, 'cbridge_session', planted, '/auth');
      const confirm = await begin(victim);
      expect(pageText(confirm.html)).toContain('erin@example.com'); // the planted session shows whose it is
      const form = await victim.submit(confirm, CONFIRM, { action: 'switch' });
      await signIn(victim, form, users.carol);
      const fresh = victim.cookiesFor(`${h.url}/auth/login`).cbridge_session;
      expect(fresh).toBeTruthy();
      expect(fresh).not.toBe(planted);
      // The planted id no longer signs anyone in.
      expect(pageText((await begin(attacker)).html)).toContain('Sign in to continue');
    });

    it('does not let browser B finish a flow that browser A started', async () => {
      const a = new Browser();
      const formA = await begin(a);
      const fieldsA = formFields(formA.html, LOCAL_FORM);
      const b = new Browser();
      await signIn(b, await begin(b), users.erin);

      const resume = await b.request(`${h.url}/auth/login/resume?tx=${fieldsA.tx}`);
      expect(resume.status).toBe(403);
      const posted = await b.request(`${h.url}${LOCAL_FORM}`, {
        method: 'POST',
        form: { ...fieldsA, email: users.erin.email, password: users.erin.password },
      });
      expect(posted.status).toBe(403);
      expect(pageText(posted.html)).toContain('started in another browser');
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'login_transaction_invalid' });
      expect(callsFor(a)).toEqual([]);
    });

    it('does not complete twice when the Login URI is replayed after completion', async () => {
      const b = new Browser();
      await signIn(b, await begin(b), users.carol);
      const loginUrl = loginUrlOf(b);
      const replay = await b.request(loginUrl);
      expect(replay.status).toBe(409);
      expect(pageText(replay.html)).toContain('This sign-in is already complete');
      const other = await new Browser().request(loginUrl);
      expect(other.status).toBe(409);
      expect(callsFor(b)).toHaveLength(1);
      expect(await lastAudit()).toMatchObject({ errorCode: 'login_already_completed' });
    });

    it('sends headers that keep pages uncached, unframed and referrer-free', async () => {
      const page = await begin(new Browser());
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('referrer-policy')).toBe('same-origin');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    });

    it('sets the transaction cookie httpOnly, SameSite=Lax, signed, under /auth', async () => {
      const b = new Browser();
      const first = await b.request(h.authorizeUrl());
      const login = await fetch(first.headers.get('location')!, {
        redirect: 'manual',
        headers: { Accept: 'text/html' },
      });
      const cookie = login.headers.getSetCookie().find((c) => c.startsWith('cbridge_tx_'))!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\/auth/);
      expect(cookie).toMatch(/=s%3A/);
      expect(cookie).not.toMatch(/Secure/); // http:// PUBLIC_URL; Secure when it is https
    });

    it('keeps the external_auth_id, passwords and cookies out of the logs', async () => {
      const b = new Browser();
      await signIn(b, await begin(b), users.carol);
      const ext = externalAuthIdOf(loginUrlOf(b));
      const text = logs.text;
      expect(text).toContain('login completed');
      expect(text).not.toContain(ext);
      expect(text).not.toContain(users.carol.password);
      expect(text).not.toContain(b.cookiesFor(`${h.url}/auth/login`).cbridge_session);
    });

    it('labels login metrics only from closed sets: no email, user id or external_auth_id on /metrics', async () => {
      const b = new Browser();
      await signIn(b, await begin(b), users.carol);
      const other = new Browser();
      await other.submit(await begin(other), LOCAL_FORM, {
        email: 'mallory@example.com',
        password: 'x-x-x-x',
      });
      const text = await (await fetch(`${h.url}/metrics`)).text();
      for (const secret of [
        users.carol.email,
        users.carol.id,
        'mallory',
        externalAuthIdOf(loginUrlOf(b)),
        externalAuthIdOf(loginUrlOf(other)),
      ]) {
        expect(text).not.toContain(secret);
      }
      const outcomes = await scrape(h.url, 'login_outcomes_total');
      expect(new Set(outcomes.map((s) => s.labels.strategy))).toEqual(new Set(['local']));
      for (const s of outcomes) expect(s.labels.outcome).toMatch(/^[a-z_]{4,40}$/);
      const results = await scrape(h.url, 'authkit_completion_duration_seconds_count');
      expect(results.map((s) => s.labels.result).sort()).toEqual(['error', 'ok', 'refused', 'timeout']);
    });
  });

  describe('each failure ends in a page a person understands', () => {
    it.each([
      ['no external_auth_id', ''],
      ['an empty one', '?external_auth_id='],
      ['markup', '?external_auth_id=%3Cscript%3E'],
      ['a huge one', `?external_auth_id=${'a'.repeat(300)}`],
      ['a repeated one', '?external_auth_id=abcd1234&external_auth_id=efgh5678'],
    ])('answers 400 for %s', async (_what, query) => {
      const page = await new Browser().request(`${h.url}/auth/login${query}`);
      expect(page.status).toBe(400);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(pageText(page.html)).toContain('This sign-in link is not valid');
      expect(pageText(page.html)).toContain('start the connection again');
      expect(page.html).not.toContain('<script>');
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'invalid_external_auth_id' });
    });

    it('says an expired transaction has expired', async () => {
      const b = new Browser();
      const form = await begin(b);
      const { tx } = formFields(form.html, LOCAL_FORM);
      await h.prisma.loginTransaction.update({
        where: { id: tx },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const page = await signIn(b, form, users.carol);
      expect(page.status).toBe(410);
      expect(pageText(page.html)).toContain('This sign-in has expired');
      expect(await lastAudit()).toMatchObject({ errorCode: 'login_transaction_expired', transactionId: tx });
      await expect(h.prisma.loginTransaction.findUnique({ where: { id: tx } })).resolves.toMatchObject({
        status: 'expired',
        externalAuthId: null,
      });
    });

    it('says a made-up external_auth_id is not valid (after the sign-in, which is when AuthKit is asked)', async () => {
      const b = new Browser();
      const form = await b.go(`${h.url}/auth/login?external_auth_id=ext_auth_01MADEUPMADEUPMADEUPMADEUP`);
      const page = await signIn(b, form, users.carol);
      expect(page.status).toBe(410);
      expect(pageText(page.html)).toContain('This sign-in link is not valid or has expired');
      expect(pageText(page.html)).not.toMatch(/Signed in|Continue as/);
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'external_auth_expired' });
    });

    it('says so when AuthKit no longer knows the external_auth_id', async () => {
      const b = new Browser();
      const form = await begin(b);
      h.emulator.expireExternalAuth(externalAuthIdOf(loginUrlOf(b)));
      const page = await signIn(b, form, users.carol);
      expect(page.status).toBe(410);
      expect(pageText(page.html)).toContain('This sign-in link is not valid or has expired');
      expect(pageText(page.html)).toContain('AuthKit does not recognise this sign-in request');
      expect(pageText(page.html)).toContain('start the connection again');
      expect(await lastAudit()).toMatchObject({
        outcome: 'failure',
        errorCode: 'external_auth_expired',
        legacyUserId: users.carol.id,
      });
    });

    it.each([
      [
        'external_auth_session_already_completed',
        409,
        'This sign-in was already completed',
        'already_completed',
      ],
      ['email_not_available', 409, 'Your email address is already in use', 'email_rejected'],
      ['invalid_email', 400, 'Your email address was not accepted', 'email_rejected'],
      ['email_change_not_allowed', 409, 'Your email address cannot be changed here', 'email_rejected'],
    ])('maps AuthKit 400 %s to a %i page', async (code, status, title, outcome) => {
      const b = new Browser();
      const form = await begin(b);
      h.emulator.injectCompletionFault({ status: 400, body: { code, message: 'refused' } });
      let page!: Page;
      const metrics = await metricsDuring(async () => (page = await signIn(b, form, users.carol)));
      expect(metrics).toEqual({ outcomes: { [outcome]: 1 }, completions: { refused: 1 } });
      expect(page.status).toBe(status);
      expect(pageText(page.html)).toContain(title);
      expect(page.html).toContain(`<code>${code}</code>`);
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: code });
      expect(callsFor(b)).toHaveLength(1);
      // A refused completion is final for this transaction: the page does not offer to resend it.
      expect(page.html).not.toContain('/auth/login/retry');
    });

    it('offers a retry after AuthKit 5xx, never resends by itself, and completes on the retry', async () => {
      const b = new Browser();
      const form = await begin(b);
      h.emulator.injectCompletionFault({ status: 503, times: 1 });
      let page!: Page;
      const failed = await metricsDuring(async () => (page = await signIn(b, form, users.carol)));
      expect(failed).toEqual({ outcomes: { authkit_unavailable: 1 }, completions: { error: 1 } });
      expect(page.status).toBe(503);
      expect(pageText(page.html)).toContain('AuthKit did not answer');
      expect(page.html).toContain('action="/auth/login/retry"');
      expect(callsFor(b)).toHaveLength(1); // the SDK's automatic retries are off
      expect(await lastAudit()).toMatchObject({ outcome: 'failure', errorCode: 'authkit_unavailable' });

      let end!: Page;
      const retried = await metricsDuring(
        async () => (end = await b.submit(page, '/auth/login/retry', {}, h.isClientRedirect)),
      );
      expect(retried).toEqual({ outcomes: { completed: 1 }, completions: { ok: 1 } });
      expect(h.isClientRedirect(end.url)).toBe(true);
      expect(callsFor(b).map((c) => c.status)).toEqual([503, 200]);
    });

    it('offers a retry after a timeout or a reset connection', async () => {
      for (const [fault, result] of [
        [{ delayMs: 2500, status: 500 }, 'timeout'],
        [{ resetConnection: true }, 'error'],
      ] as const) {
        const b = new Browser();
        const form = await begin(b);
        h.emulator.injectCompletionFault(fault);
        let page!: Page;
        const metrics = await metricsDuring(async () => (page = await signIn(b, form, users.carol)));
        expect(metrics).toEqual({ outcomes: { authkit_unavailable: 1 }, completions: { [result]: 1 } });
        expect(page.status).toBe(503);
        expect(page.html).toContain('action="/auth/login/retry"');
        expect(callsFor(b)).toHaveLength(1);
        const end = await b.submit(page, '/auth/login/retry', {}, h.isClientRedirect);
        expect(h.isClientRedirect(end.url)).toBe(true);
      }
    });

    it('tells the truth when a lost answer had in fact completed: already completed, no double completion', async () => {
      const b = new Browser();
      const form = await begin(b);
      h.emulator.injectCompletionFault({ status: 502, afterCommit: true });
      const page = await signIn(b, form, users.carol);
      expect(page.status).toBe(503);
      const again = await b.submit(page, '/auth/login/retry');
      expect(again.status).toBe(409);
      expect(pageText(again.html)).toContain('This sign-in was already completed');
      expect(callsFor(b).map((c) => c.status)).toEqual([200, 400]);
    });

    it('refuses a redirect_uri outside the AuthKit domain', async () => {
      const b = new Browser();
      const form = await begin(b);
      h.emulator.injectCompletionFault({ status: 200, body: { redirect_uri: 'https://evil.example/steal' } });
      let page!: Page;
      const metrics = await metricsDuring(async () => (page = await signIn(b, form, users.carol)));
      // AuthKit answered (ok), but its answer ended the sign-in.
      expect(metrics).toEqual({ outcomes: { authkit_refused: 1 }, completions: { ok: 1 } });
      expect(page.status).toBe(502);
      expect(page.headers.get('location')).toBeNull();
      expect(pageText(page.html)).toContain('AuthKit sent an unexpected answer');
      expect(await lastAudit()).toMatchObject({ errorCode: 'redirect_rejected' });
    });

    it('never completes one transaction twice, even from two concurrent requests', async () => {
      const b = new Browser();
      await signIn(b, await begin(b), users.carol);
      const confirm = await begin(b);
      h.emulator.injectCompletionFault({ delayMs: 400 });
      const fields = formFields(confirm.html, CONFIRM);
      const post = () =>
        b.request(`${h.url}${CONFIRM}`, { method: 'POST', form: { ...fields, action: 'continue' } });
      const [one, two] = await Promise.all([post(), post()]);
      const statuses = [one.status, two.status].sort();
      expect(statuses).toEqual([303, 409]);
      const loser = one.status === 409 ? one : two;
      expect(pageText(loser.html)).toMatch(/being finished|already complete/);
      expect(callsFor(b)).toHaveLength(1);
    });
  });
});

describe('login bridge, an operator-configured tenant consent option (AUTHKIT_USER_CONSENT_OPTIONS)', () => {
  it("sends the operator's tenant option instead of the person's tenants, and warns once", async () => {
    const own = {
      claim: 'tenant',
      type: 'enum',
      label: 'Region',
      choices: [
        { value: 'eu', label: 'Europe' },
        { value: 'us', label: 'United States' },
      ],
    };
    // Nest's Logger, whichever application's log it ends in (this file runs two bridges).
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const h = await startHarness({
      strategy: 'local',
      env: { AUTHKIT_USER_CONSENT_OPTIONS: JSON.stringify([own]) },
    });
    try {
      const email = 'hal@example.com';
      const password = 'hal-password-1';
      await h.app.get(LocalUsersService).create({
        email,
        password,
        tenants: [
          { id: 'acme', name: 'Acme' },
          { id: 'globex', name: 'Globex' },
        ],
      });
      for (let i = 0; i < 2; i++) {
        const b = new Browser();
        const consent = await b.submit(await b.go(h.authorizeUrl()), LOCAL_FORM, { email, password });
        expect(isConsentPage(consent)).toBe(true);
        const ext = externalAuthIdOf(b.history.findLast((u) => u.includes('external_auth_id='))!);
        const [call] = h.emulator.completionCalls().filter((c) => c.externalAuthId === ext);
        expect(call.consentOptions).toEqual([own]);
      }
      const warnings = warn.mock.calls.filter(([message]) =>
        String(message).includes('configures its own "tenant" option'),
      );
      expect(warnings).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await h.close();
    }
  });
});
