import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService, externalAuthIdHint } from '../authkit/audit.service';
import { AuthKitClient, isAllowedRedirect } from '../authkit/authkit-client';
import { classifyCompletionError } from '../authkit/completion-errors';
import { UserLinksService } from '../authkit/user-links.service';
import { DomainError } from '../common/errors';
import { writeOrRetry } from '../database/write-retry';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { LoginTransaction } from '../generated/prisma/client';
import { LegacyAuthenticator } from '../legacy-session/legacy-authenticator';
import {
  RateLimiterService,
  type CountedLimit,
  type RateLimitState,
} from '../legacy-session/rate-limiter.service';
import type { LegacyUser } from '../legacy-session/legacy-user';
import { BRIDGE_SESSION_COOKIE, BridgeSessionService } from '../sessions/bridge-session.service';
import { nextStep } from './login-decision';
import { csrfToken, csrfTokenMatches, txCookieName } from './login-cookies';
import { LOGIN_FAILURES, type LoginFailureCode } from './login-failures';
import { LoginMetrics, type LoginOutcomeCode } from './login-metrics';
import {
  confirmPage,
  connectPage,
  failurePage,
  resumePath,
  signInPage,
  type FailureActions,
} from './login.pages';
import { LoginTransactionService, transactionRef } from './login-transaction.service';
import { consentOptionsFor, MAX_TENANT_CHOICES, TENANT_CLAIM } from './tenant-consent';

/** A cookie to set (value) or clear (no value); the controller adds the common attributes. */
export interface CookieOp {
  name: string;
  value?: string;
  maxAgeMs?: number;
}

/** What the controller sends: a page or a redirect, plus cookies and headers. */
export interface LoginResponse {
  status: number;
  html?: string;
  redirect?: string;
  cookies?: CookieOp[];
  headers?: Record<string, string>;
}

export interface LoginContext {
  req: Request;
  res: Response;
}

/** The posted fields of the flow's forms (the local form's email/password are read by Passport). */
export interface LoginForm {
  tx?: unknown;
  csrf?: unknown;
  action?: unknown;
  user?: unknown;
  email?: unknown;
}

/** A transaction this browser proved it owns. */
interface Flow {
  tx: LoginTransaction;
  secret: string;
  cookies: CookieOp[];
}

/** external_auth_id: opaque to us; AuthKit's look like `01J3X4…` or `ext_auth_01…`. */
const EXTERNAL_AUTH_ID = /^[A-Za-z0-9_-]{4,256}$/;

/**
 * The login bridge: AuthKit sends the browser to the Login URI with an external_auth_id; the
 * legacy strategy says who (if anyone) is signed in; the person confirms or signs in; the
 * completion call tells AuthKit who it is and the browser goes back to AuthKit. Every ending
 * is a page a person understands and a row in the audit log.
 */
@Injectable()
export class LoginService {
  private readonly logger = new Logger('Login');
  /** The operator's own `tenant` consent option was reported (once per process). */
  private tenantOverrideWarned = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: LoginTransactionService,
    private readonly legacy: LegacyAuthenticator,
    private readonly sessions: BridgeSessionService,
    private readonly authkit: AuthKitClient,
    private readonly audit: AuditService,
    private readonly links: UserLinksService,
    private readonly limiter: RateLimiterService,
    private readonly metrics: LoginMetrics,
  ) {}

  /** GET /auth/login?external_auth_id=…: the Login URI. */
  async start(ctx: LoginContext, externalAuthId: unknown): Promise<LoginResponse> {
    const counted = this.startLimit(ctx);
    if (typeof externalAuthId !== 'string' || !EXTERNAL_AUTH_ID.test(externalAuthId)) {
      const limited = await this.startLimited(
        ctx,
        await this.limiter.hit(counted.key, counted.windowSeconds),
      );
      return limited ?? this.fail(ctx, 'invalid_external_auth_id');
    }
    // The local strategy answers "who is signed in" from this database alone (one read, none
    // for a browser without a session cookie), so it is asked first: a browser nobody is signed
    // in on goes to the sign-in form next, and its transaction is created as sent there (no
    // second write). Other strategies ask the legacy app, and only once the transaction exists
    // (a failure there is a step of it).
    const early =
      this.legacy.strategy === 'local' ? await this.legacy.currentUser(ctx.req, ctx.res) : undefined;
    const ttlSeconds = this.config.login.transactionTtlSeconds;
    const { created, limit } = await this.transactions.create({
      externalAuthId,
      strategy: this.legacy.strategy,
      ttlSeconds,
      ...(early === null && { loginRedirectAt: new Date() }),
      counted,
    });
    const limited = await this.startLimited(ctx, limit);
    if (limited) return limited;
    if (!created) return this.fail(ctx, 'login_already_completed', { externalAuthId });
    const { tx, bindingSecret } = created;
    // The cookie outlives the transaction by an hour, so a late visit hears "expired", not "unknown".
    const cookie = { name: txCookieName(tx.id), value: bindingSecret, maxAgeMs: (ttlSeconds + 3600) * 1000 };
    const flow: Flow = { tx, secret: bindingSecret, cookies: [cookie] };
    return early === undefined ? this.proceed(ctx, flow) : this.proceedWith(ctx, flow, early);
  }

  /**
   * Every visit of the Login URI writes rows (a transaction, or an audit row for a bad link), so
   * visits are counted per client address (an IPv6 client by its /64: addressKey), a valid one
   * in the same statement that writes its transaction (LoginTransactionService.create).
   */
  private startLimit(ctx: LoginContext): CountedLimit {
    return {
      key: RateLimiterService.key('login-start', this.limiter.addressKey(ctx.req.ip)),
      ...this.limiter.limits.loginStartPerIp,
    };
  }

  /**
   * Over the limit: a 429 page with Retry-After, nothing written but the counter (one audit row
   * when the limit is first crossed in a window).
   */
  private async startLimited(
    ctx: LoginContext,
    { count, retryAfterSeconds }: RateLimitState,
  ): Promise<LoginResponse | undefined> {
    const { limit } = this.limiter.limits.loginStartPerIp;
    if (count <= limit) return undefined;
    if (count === limit + 1) {
      await this.record(ctx, 'failure', 'rate_limited');
      this.logger.warn(
        { code: 'rate_limited', retryAfterSeconds },
        'Login URI rate limit reached for a client',
      );
    } else {
      // No audit row for the later refusals, but each one counts (a flood shows on /metrics).
      this.metrics.ended('rate_limited');
    }
    return {
      status: LOGIN_FAILURES.rate_limited.status,
      html: failurePage('rate_limited'),
      headers: { 'Retry-After': String(retryAfterSeconds) },
    };
  }

  /** GET /auth/login/resume?tx=…: where the legacy login sends the browser back. */
  async resume(ctx: LoginContext, txId: unknown): Promise<LoginResponse> {
    const flow = await this.bound(ctx, txId);
    return 'status' in flow ? flow : this.proceed(ctx, flow);
  }

  /** POST /auth/login/retry: the person's own retry after AuthKit did not answer. */
  async retry(ctx: LoginContext, form: LoginForm): Promise<LoginResponse> {
    const flow = await this.bound(ctx, form.tx, form.csrf);
    return 'status' in flow ? flow : this.proceed(ctx, flow);
  }

  /**
   * POST /auth/login/connect: the person's answer to "An AI application is asking to connect"
   * (`action=continue`: on to sign in; `action=cancel`: the flow ends). The local sign-in form
   * posts its Cancel here too.
   */
  async connect(ctx: LoginContext, form: LoginForm): Promise<LoginResponse> {
    const flow = await this.bound(ctx, form.tx, form.csrf);
    if ('status' in flow) return flow;
    if (form.action === 'cancel') return this.cancel(ctx, flow);
    const current = await this.currentUser(ctx, flow);
    if ('response' in current) return current.response;
    // Signed in meanwhile (another tab): "Continue as" decides. Otherwise: on to sign in.
    if (form.action !== 'continue' || current.user) return this.proceedWith(ctx, flow, current.user);
    return this.sendToSignIn(ctx, flow);
  }

  /** POST /auth/login/confirm: "Continue as …", "Use another account" or Cancel. */
  async confirm(ctx: LoginContext, form: LoginForm): Promise<LoginResponse> {
    const flow = await this.bound(ctx, form.tx, form.csrf);
    if ('status' in flow) return flow;
    if (form.action === 'cancel') return this.cancel(ctx, flow);
    const current = await this.currentUser(ctx, flow);
    if ('response' in current) return current.response;
    const { user } = current;
    if (user && form.action === 'switch') {
      flow.tx = await this.transactions.update(flow.tx.id, { legacyUserId: null, declinedUserId: user.id });
      if (this.legacy.strategy === 'local') await this.signOutLocal(ctx, flow);
      return this.sendToSignIn(ctx, flow, this.config.legacy.logoutUrl);
    }
    if (user && form.action === 'continue' && form.user === user.id) {
      return this.complete(ctx, flow, user, { approved: true });
    }
    // The session changed since the page was shown (another tab): decide again for the current one.
    return this.proceedWith(ctx, flow, user);
  }

  /** POST /auth/login/local: the built-in sign-in form (`local` strategy). */
  async signIn(ctx: LoginContext, form: LoginForm): Promise<LoginResponse> {
    const flow = await this.bound(ctx, form.tx, form.csrf);
    if ('status' in flow) return flow;
    if (this.legacy.strategy !== 'local') return this.proceed(ctx, flow);
    const email = typeof form.email === 'string' ? form.email.trim().slice(0, 320) : '';
    const attempt = await this.legacy.passwordSignIn(ctx.req, ctx.res);
    if (!attempt.ok) {
      await this.record(ctx, 'failure', attempt.code, flow.tx, { id: attempt.userId, email });
      if (attempt.code === 'user_disabled') {
        return this.page(flow, 'user_disabled', {
          resumeTxId: flow.tx.id,
          resumeLabel: 'Use another account',
        });
      }
      const rateLimited = attempt.code === 'rate_limited';
      const minutes = Math.ceil((attempt.retryAfterSeconds ?? 60) / 60);
      return {
        status: rateLimited ? 429 : 401,
        html: signInPage(this.form(flow), {
          email,
          error: rateLimited
            ? `Too many sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`
            : 'That email and password do not match an account.',
        }),
        cookies: flow.cookies,
        ...(rateLimited ? { headers: { 'Retry-After': String(attempt.retryAfterSeconds ?? 60) } } : {}),
      };
    }
    // A new session id at every sign-in: a planted session cookie is never promoted (fixation).
    await this.signOutLocal(ctx, flow);
    const maxAgeSeconds = this.config.login.sessionMaxAgeHours * 3600;
    const session = await this.sessions.create({ userId: attempt.user.id }, maxAgeSeconds);
    flow.cookies.push({ name: BRIDGE_SESSION_COOKIE, value: session.token, maxAgeMs: maxAgeSeconds * 1000 });
    return this.complete(ctx, flow, attempt.user, { approved: true });
  }

  /** Asks the legacy strategy who is signed in, then takes the next step. */
  private async proceed(ctx: LoginContext, flow: Flow): Promise<LoginResponse> {
    const current = await this.currentUser(ctx, flow);
    return 'response' in current ? current.response : this.proceedWith(ctx, flow, current.user);
  }

  private async proceedWith(ctx: LoginContext, flow: Flow, user: LegacyUser | null): Promise<LoginResponse> {
    // The local strategy's own sign-in form says what is asking and offers Cancel: no page before it.
    const redirects = this.legacy.strategy !== 'local';
    switch (nextStep(flow.tx, user, redirects, redirects && this.config.login.confirmConnect)) {
      case 'complete':
        return this.complete(ctx, flow, user!);
      case 'confirm':
        return { status: 200, html: confirmPage(this.form(flow), user!), cookies: flow.cookies };
      case 'connect':
        return { status: 200, html: connectPage(this.form(flow)), cookies: flow.cookies };
      case 'sign-in':
        return this.sendToSignIn(ctx, flow);
      case 'sign-in-loop':
        await this.transactions.markFailed(flow.tx.id, 'legacy_session_not_found');
        return this.fail(ctx, 'legacy_session_not_found', { flow });
    }
  }

  /** The signed-in legacy user, null when nobody is, or the failure page when the app did not answer. */
  private async currentUser(
    ctx: LoginContext,
    flow: Flow,
  ): Promise<{ user: LegacyUser | null } | { response: LoginResponse }> {
    try {
      return { user: await this.legacy.currentUser(ctx.req, ctx.res) };
    } catch (err) {
      if (!(err instanceof DomainError) || !(err.code in LOGIN_FAILURES)) throw err;
      const code = err.code as LoginFailureCode;
      this.logger.warn(
        { code, txRef: transactionRef(flow.tx.id), reason: err.message },
        'legacy strategy failed',
      );
      return {
        response: await this.fail(ctx, code, {
          flow,
          actions: code === 'legacy_unavailable' ? { resumeTxId: flow.tx.id } : {},
        }),
      };
    }
  }

  /** Not signed in: the local form, or the legacy login with a return_to that resumes this flow. */
  private async sendToSignIn(ctx: LoginContext, flow: Flow, via?: string): Promise<LoginResponse> {
    if (this.legacy.strategy === 'local') {
      if (!flow.tx.loginRedirectAt)
        flow.tx = await this.transactions.update(flow.tx.id, { loginRedirectAt: new Date() });
      return { status: 200, html: signInPage(this.form(flow)), cookies: flow.cookies };
    }
    flow.tx = await this.transactions.update(flow.tx.id, {
      loginRedirectAt: new Date(),
      legacyRedirects: { increment: 1 },
    });
    const target = new URL(via ?? this.config.legacy.loginUrl!);
    target.searchParams.set(
      this.config.legacy.returnToParam,
      `${this.config.publicUrl}${resumePath(flow.tx.id)}`,
    );
    return this.redirect(ctx, target.toString(), flow.cookies);
  }

  /**
   * The completion: claim the transaction (at most one call in flight, across instances), call
   * AuthKit once, follow its redirect_uri only to the AuthKit origin. An unknown outcome
   * (timeout, 5xx) gives the claim back and offers a retry; it is never resent by itself.
   */
  private async complete(
    ctx: LoginContext,
    flow: Flow,
    user: LegacyUser,
    options: { approved?: boolean } = {},
  ): Promise<LoginResponse> {
    const { tx } = flow;
    const { externalAuthId } = tx;
    const txRef = transactionRef(tx.id);
    // The claim records the user the flow is approved for. Only an open flow still has its
    // external_auth_id; an ended one is answered from its state. A user the person approved just
    // now (signed in, or "Continue as") is recorded on the transaction even when the claim is lost.
    if (externalAuthId === null || !(await this.transactions.claim(tx.id, user.id, this.staleBefore()))) {
      if (options.approved) flow.tx = await this.transactions.update(tx.id, { legacyUserId: user.id });
      return this.lostClaim(ctx, flow, user);
    }
    const userConsentOptions = this.consentOptions(user, txRef);
    let redirectUri: string;
    try {
      ({ redirectUri } = await this.metrics.timeCompletion(() =>
        this.authkit.completeOAuth2({ externalAuthId, user, userConsentOptions }),
      ));
    } catch (err) {
      const failure = classifyCompletionError(err);
      // AuthKit's message may quote the request: never with the external_auth_id in it.
      const detail = failure.detail?.split(externalAuthId).join(externalAuthIdHint(externalAuthId));
      this.logger.warn({ code: failure.code, status: failure.status, detail, txRef }, 'completion failed');
      if (failure.kind === 'rejected') {
        await this.transactions.markFailed(tx.id, failure.code);
        return this.fail(ctx, failure.code, { flow, user });
      }
      await this.transactions.release(tx.id, failure.code);
      return this.fail(ctx, failure.code, { flow, user, actions: { retry: this.form(flow) } });
    }
    if (!isAllowedRedirect(redirectUri, this.config.workos.authkitDomain, this.config.production)) {
      await this.transactions.markFailed(tx.id, 'redirect_rejected');
      this.logger.error({ txRef }, 'completion returned a redirect_uri outside the AuthKit domain');
      return this.fail(ctx, 'redirect_rejected', { flow, user });
    }
    // AuthKit has completed: whatever happens to our bookkeeping, the browser must get its redirect.
    // The transaction's end, the user link and the audit row are independent writes, sent
    // together; with the database briefly gone, each is written when it is back.
    const completedAt = new Date();
    await Promise.all([
      writeOrRetry(
        () => this.transactions.markCompleted(tx.id, completedAt),
        `completion of transaction ${txRef}`,
        this.logger,
      ),
      writeOrRetry(
        () => this.links.recordLogin(user, completedAt),
        `sign-in record of transaction ${txRef}`,
        this.logger,
      ),
      this.record(ctx, 'success', 'completed', tx, user),
    ]);
    this.logger.log({ txRef, ext: externalAuthIdHint(externalAuthId) }, 'login completed');
    return this.redirect(ctx, redirectUri, [...flow.cookies, { name: txCookieName(tx.id) }]);
  }

  /**
   * AUTHKIT_USER_CONSENT_OPTIONS, plus "Workspace" when the person belongs to more than one
   * tenant: AuthKit's consent screen asks which one the AI application may act in.
   */
  private consentOptions(user: LegacyUser, txRef: string) {
    const consent = consentOptionsFor(user.tenants, this.config.login.userConsentOptions);
    if (consent.overridden && !this.tenantOverrideWarned) {
      this.tenantOverrideWarned = true;
      this.logger.warn(
        `AUTHKIT_USER_CONSENT_OPTIONS configures its own "${TENANT_CLAIM}" option: it is sent as configured, ` +
          "instead of the choice of the person's own tenants; tools see a tenant only when the value chosen " +
          "is the id of one of the person's tenants (logged once)",
      );
    }
    if (consent.leftOff > 0)
      this.logger.warn(
        { txRef, tenants: user.tenants?.length, leftOff: consent.leftOff },
        `the person belongs to more tenants than a consent screen lists: only the first ${MAX_TENANT_CHOICES} are offered`,
      );
    return consent.options.length ? consent.options : undefined;
  }

  /** Someone else holds (or finished) the completion of this transaction. */
  private async lostClaim(ctx: LoginContext, flow: Flow, user: LegacyUser): Promise<LoginResponse> {
    const fresh = await this.transactions.reload(flow.tx.id);
    if (!fresh) return this.fail(ctx, 'login_transaction_invalid', { flow, user });
    flow.tx = fresh;
    if (fresh.status === 'completed') return this.fail(ctx, 'login_already_completed', { flow, user });
    if (fresh.status === 'failed' && fresh.errorCode && fresh.errorCode in LOGIN_FAILURES) {
      return this.page(flow, fresh.errorCode as LoginFailureCode);
    }
    if (fresh.status !== 'pending' || fresh.expiresAt <= new Date()) {
      return this.fail(ctx, 'login_transaction_expired', { flow, user });
    }
    return this.fail(ctx, 'completion_in_progress', { flow, user, actions: { resumeTxId: fresh.id } });
  }

  /**
   * The transaction named by the request, if this browser holds its cookie (and, for forms,
   * the CSRF token and a same-origin Origin); otherwise the page that explains why not.
   */
  private async bound(ctx: LoginContext, txId: unknown, csrf?: unknown): Promise<Flow | LoginResponse> {
    const signed = ctx.req.signedCookies as Record<string, unknown> | undefined;
    const secret = typeof txId === 'string' ? signed?.[txCookieName(txId)] : undefined;
    const tx = await this.transactions.findBound(txId, secret);
    if (!tx) return this.fail(ctx, 'login_transaction_invalid');
    const flow: Flow = { tx, secret: secret as string, cookies: [] };
    if (csrf !== undefined || ctx.req.method === 'POST') {
      const origin = ctx.req.headers.origin;
      const sameOrigin = !origin || origin === new URL(this.config.publicUrl).origin;
      if (!sameOrigin || !csrfTokenMatches(this.config.session.secret, tx.id, flow.secret, csrf)) {
        return this.fail(ctx, 'csrf_failed', { flow, actions: { resumeTxId: tx.id, resumeLabel: 'Reload' } });
      }
    }
    const state = await this.transactions.state(tx);
    switch (state.kind) {
      case 'pending':
        return flow;
      case 'expired':
        return this.fail(ctx, 'login_transaction_expired', { flow, clear: true });
      case 'completed':
        return this.page(flow, 'login_already_completed');
      case 'failed': {
        const code =
          tx.errorCode && tx.errorCode in LOGIN_FAILURES ? (tx.errorCode as LoginFailureCode) : null;
        return this.page(flow, code ?? 'authkit_rejected');
      }
    }
  }

  /**
   * Cancel: the flow ends here (audited); its cookie goes; nothing is sent to AuthKit. Not while
   * a completion is in flight (another tab said Continue): that page tells how it ends instead.
   */
  private async cancel(ctx: LoginContext, flow: Flow): Promise<LoginResponse> {
    if (!(await this.transactions.cancel(flow.tx.id, this.staleBefore()))) {
      const fresh = await this.transactions.reload(flow.tx.id);
      if (fresh?.status === 'completed') return this.page(flow, 'login_already_completed');
      return this.page(flow, 'completion_in_progress', { resumeTxId: flow.tx.id });
    }
    return this.fail(ctx, 'connect_cancelled', { flow, clear: true });
  }

  /** A claim older than this was abandoned (its instance died during the call). */
  private staleBefore(): Date {
    return new Date(Date.now() - this.config.login.completeTimeoutMs - 30_000);
  }

  private async signOutLocal(ctx: LoginContext, flow: Flow): Promise<void> {
    const signed = ctx.req.signedCookies as Record<string, unknown> | undefined;
    const token = signed?.[BRIDGE_SESSION_COOKIE];
    if (typeof token === 'string') await this.sessions.destroy(token);
    flow.cookies.push({ name: BRIDGE_SESSION_COOKIE });
  }

  private form(flow: Flow) {
    return {
      txId: flow.tx.id,
      csrf: csrfToken(this.config.session.secret, flow.tx.id, flow.secret),
      appHost: new URL(this.config.publicUrl).host,
    };
  }

  private redirect(ctx: LoginContext, url: string, cookies: CookieOp[]): LoginResponse {
    return { status: ctx.req.method === 'POST' ? 303 : 302, redirect: url, cookies };
  }

  /** A failure page without a new audit row (the outcome was recorded when it happened). */
  private page(flow: Flow, code: LoginFailureCode, actions: FailureActions = {}): LoginResponse {
    return { status: LOGIN_FAILURES[code].status, html: failurePage(code, actions), cookies: flow.cookies };
  }

  /** A failure: audit row, log line, page. */
  private async fail(
    ctx: LoginContext,
    code: LoginFailureCode,
    options: {
      flow?: Flow;
      externalAuthId?: string;
      user?: LegacyUser;
      actions?: FailureActions;
      clear?: boolean;
    } = {},
  ): Promise<LoginResponse> {
    const { flow } = options;
    await this.record(ctx, 'failure', code, flow?.tx, options.user, options.externalAuthId);
    this.logger.log({ code, ...(flow && { txRef: transactionRef(flow.tx.id) }) }, 'login failed');
    const cookies = [...(flow?.cookies ?? [])];
    if (options.clear && flow) cookies.push({ name: txCookieName(flow.tx.id) });
    return { status: LOGIN_FAILURES[code].status, html: failurePage(code, options.actions), cookies };
  }

  /** An ending: counted (LoginMetrics), then written to the audit log. */
  private record(
    ctx: LoginContext,
    outcome: 'success' | 'failure',
    code: LoginOutcomeCode,
    tx?: LoginTransaction,
    user?: Partial<LegacyUser>,
    externalAuthId?: string,
  ): Promise<void> {
    this.metrics.ended(code);
    return this.audit.record({
      outcome,
      code,
      strategy: this.legacy.strategy,
      transactionId: tx?.id,
      externalAuthId: tx?.externalAuthId ?? externalAuthId ?? undefined,
      legacyUserId: user?.id,
      email: user?.email || undefined,
      ip: ctx.req.ip,
      userAgent: ctx.req.headers['user-agent'],
    });
  }
}
