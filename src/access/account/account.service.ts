import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError } from '../../common/errors';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { LegacyAuthenticator } from '../../legacy-session/legacy-authenticator';
import type { LegacyUser } from '../../legacy-session/legacy-user';
import { LOGIN_FAILURES } from '../../login/login-failures';
import { BRIDGE_SESSION_COOKIE, BridgeSessionService } from '../../sessions/bridge-session.service';
import { ClientNameResolver } from '../client-names.service';
import { GrantStore } from '../grant.store';
import { GrantsService } from '../grants.service';
import {
  ACCOUNT_BINDING_COOKIE,
  ACCOUNT_COOKIE_PATH,
  ACCOUNT_FLASH_COOKIE,
  ACCOUNT_FLASH_MAX_AGE_MS,
  ACCOUNT_MAX_TRIPS,
  ACCOUNT_TRIPS_COOKIE,
  ACCOUNT_TRIPS_MAX_AGE_MS,
  accountCsrfMatches,
  accountCsrfToken,
  bindingSecretOf,
  csrfScope,
  newBindingSecret,
} from './account-cookies';
import {
  ACCOUNT_ROUTES,
  accountProblemPage,
  accountSignInPage,
  applicationName,
  connectionsPage,
  type Banner,
} from './account.pages';

/** The login flow's cookie path, where its bridge session cookie lives. */
const AUTH_COOKIE_PATH = '/auth';

/** A cookie to set (value) or clear (no value) at `path`; the controller adds the common attributes. */
export interface AccountCookie {
  name: string;
  path: string;
  value?: string;
  maxAgeMs?: number;
}

/** What the controller sends: a page or a (same-origin) redirect, plus cookies and headers. */
export interface AccountResponse {
  status: number;
  html?: string;
  redirect?: string;
  cookies?: AccountCookie[];
  headers?: Record<string, string>;
}

export interface AccountContext {
  req: Request;
  res: Response;
}

/** The posted fields of the page's forms (the sign-in form's email/password are read by Passport). */
export interface AccountForm {
  csrf?: unknown;
  email?: unknown;
}

/** A grant id from a path: printable, bounded (as the admin API takes them). */
const GRANT_ID = /^[\x21-\x7E]{1,255}$/;
const FLASH = /^(revoked|already):([\x21-\x7E]{1,255})$/;

const FORM_EXPIRED = 'This form has expired, so nothing was changed. Try again.';

/** This browser's binding secret, and the cookie that sets it when it is new. */
interface Binding {
  secret: string;
  cookies: AccountCookie[];
}

/**
 * The person's own page (GET /account/connections): the AI applications that hold a grant for
 * the signed-in legacy user, each with a Revoke button. Who is signed in is the configured
 * legacy strategy's answer (LegacyAuthenticator); for `local` the page signs people in and out
 * of the bridge's own session itself. Every POST is checked like the login forms: a same-origin
 * Origin (or Referer) and the HMAC CSRF token of login-cookies.ts, bound to a secret that only
 * this browser's cookie holds and to the signed-in user.
 */
@Injectable()
export class AccountService {
  private readonly logger = new Logger('Account');
  private readonly origin: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly legacy: LegacyAuthenticator,
    private readonly sessions: BridgeSessionService,
    private readonly grants: GrantsService,
    private readonly store: GrantStore,
    private readonly names: ClientNameResolver,
  ) {
    this.origin = new URL(config.publicUrl).origin;
  }

  private get local(): boolean {
    return this.legacy.strategy === 'local';
  }

  /** GET /account/connections */
  async connections(ctx: AccountContext, query: Record<string, unknown>): Promise<AccountResponse> {
    const current = await this.currentUser(ctx);
    if ('response' in current) return current.response;
    const { user } = current;
    if (!user) return this.notSignedIn(ctx, query);
    const cookies: AccountCookie[] = [];
    const flash = signed(ctx.req)[ACCOUNT_FLASH_COOKIE];
    let banner: Banner | undefined;
    if (flash !== undefined) {
      cookies.push({ name: ACCOUNT_FLASH_COOKIE, path: ACCOUNT_COOKIE_PATH });
      banner = await this.flashBanner(flash, user);
    }
    if (signed(ctx.req)[ACCOUNT_TRIPS_COOKIE] !== undefined)
      cookies.push({ name: ACCOUNT_TRIPS_COOKIE, path: ACCOUNT_COOKIE_PATH });
    return this.listPage(ctx, user, { status: 200, banner, cookies });
  }

  /** POST /account/connections/:id/revoke */
  async revoke(ctx: AccountContext, id: string, form: AccountForm): Promise<AccountResponse> {
    if (!this.sameOrigin(ctx.req)) return this.forbidden();
    const current = await this.currentUser(ctx);
    if ('response' in current) return current.response;
    const { user } = current;
    // Signed out meanwhile: the page asks them to sign in; nothing changes.
    if (!user) return this.redirect(ctx, ACCOUNT_ROUTES.connections);
    if (!this.csrfOk(ctx.req, user.id, form.csrf)) {
      this.logger.warn({ user: user.id }, 'account form refused: CSRF token missing or wrong');
      return this.listPage(ctx, user, { status: 403, banner: { kind: 'error', text: FORM_EXPIRED } });
    }
    const grantId = GRANT_ID.test(id) ? id : undefined;
    const ended =
      grantId !== undefined &&
      (await this.grants.revoke(grantId, { actor: 'user', actorDetail: user.id, ip: ctx.req.ip }, user.id));
    if (ended) {
      this.logger.log({ user: user.id, grant: grantId }, 'grant revoked by its user');
      return this.redirect(ctx, ACCOUNT_ROUTES.connections, [this.flash(`revoked:${grantId}`)]);
    }
    const row = grantId === undefined ? null : await this.store.findById(grantId);
    if (row && row.legacyUserId === user.id && row.revokedAt) {
      return this.redirect(ctx, ACCOUNT_ROUTES.connections, [this.flash(`already:${row.id}`)]);
    }
    // Unknown, or someone else's: the same answer (whose grant ids exist is nobody's business).
    this.logger.warn({ user: user.id }, 'revocation refused: not a grant of this user');
    return this.listPage(ctx, user, {
      status: 404,
      banner: {
        kind: 'error',
        text: 'That application is not among the ones connected to your account, so nothing was changed.',
      },
    });
  }

  /** POST /account/sign-in (`local`): the built-in sign-in form of this page. */
  async signIn(ctx: AccountContext, form: AccountForm): Promise<AccountResponse> {
    if (!this.local) return this.redirect(ctx, ACCOUNT_ROUTES.connections);
    const email = typeof form.email === 'string' ? form.email.trim().slice(0, 320) : '';
    if (!this.sameOrigin(ctx.req) || !this.csrfOk(ctx.req, null, form.csrf)) {
      return this.signInForm(ctx, 403, { email, error: 'This form has expired. Please sign in again.' });
    }
    const attempt = await this.legacy.passwordSignIn(ctx.req, ctx.res);
    if (!attempt.ok) {
      this.logger.log({ code: attempt.code, user: attempt.userId }, 'account sign-in failed');
      if (attempt.code === 'user_disabled') {
        return this.signInForm(ctx, LOGIN_FAILURES.user_disabled.status, {
          email,
          error: `${LOGIN_FAILURES.user_disabled.title}. ${LOGIN_FAILURES.user_disabled.message}`,
        });
      }
      if (attempt.code === 'rate_limited') {
        const retryAfter = attempt.retryAfterSeconds ?? 60;
        const minutes = Math.ceil(retryAfter / 60);
        const page = await this.signInForm(ctx, 429, {
          email,
          error: `Too many sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        });
        return { ...page, headers: { 'Retry-After': String(retryAfter) } };
      }
      return this.signInForm(ctx, 401, { email, error: 'That email and password do not match an account.' });
    }
    // A new session id at every sign-in (fixation): the session this browser held ends, and the
    // new one replaces the cookie here and at the Login URI (where it offers "Continue as").
    await this.sessions.destroy(sessionToken(ctx.req));
    const maxAgeSeconds = this.config.login.sessionMaxAgeHours * 3600;
    const session = await this.sessions.create({ userId: attempt.user.id }, maxAgeSeconds);
    const maxAgeMs = maxAgeSeconds * 1000;
    this.logger.log({ user: attempt.user.id }, 'account sign-in');
    return this.redirect(ctx, ACCOUNT_ROUTES.connections, [
      { name: BRIDGE_SESSION_COOKIE, path: ACCOUNT_COOKIE_PATH, value: session.token, maxAgeMs },
      { name: BRIDGE_SESSION_COOKIE, path: AUTH_COOKIE_PATH, value: session.token, maxAgeMs },
      // The forms' secret changes with the person.
      { name: ACCOUNT_BINDING_COOKIE, path: ACCOUNT_COOKIE_PATH, value: newBindingSecret() },
      { name: ACCOUNT_TRIPS_COOKIE, path: ACCOUNT_COOKIE_PATH },
    ]);
  }

  /** POST /account/sign-out (`local`): ends the bridge's own session in this browser. */
  async signOut(ctx: AccountContext, form: AccountForm): Promise<AccountResponse> {
    if (!this.local) return this.redirect(ctx, ACCOUNT_ROUTES.connections);
    if (!this.sameOrigin(ctx.req)) return this.forbidden();
    const current = await this.currentUser(ctx);
    if ('response' in current) return current.response;
    const { user } = current;
    if (user && !this.csrfOk(ctx.req, user.id, form.csrf)) {
      return this.listPage(ctx, user, { status: 403, banner: { kind: 'error', text: FORM_EXPIRED } });
    }
    await this.sessions.destroy(sessionToken(ctx.req));
    if (user) this.logger.log({ user: user.id }, 'account sign-out');
    return this.redirect(ctx, `${ACCOUNT_ROUTES.connections}?signed_out=1`, [
      { name: BRIDGE_SESSION_COOKIE, path: ACCOUNT_COOKIE_PATH },
      { name: BRIDGE_SESSION_COOKIE, path: AUTH_COOKIE_PATH },
      { name: ACCOUNT_BINDING_COOKIE, path: ACCOUNT_COOKIE_PATH },
      { name: ACCOUNT_FLASH_COOKIE, path: ACCOUNT_COOKIE_PATH },
    ]);
  }

  /**
   * GET /auth/account-session (`local`): the bridge session cookie lives under /auth, where the
   * Login URI set it; this page cannot see it from /account. This hop (under /auth, so it can)
   * gives the page the same session, then goes back to it: one session for both.
   */
  async adoptSession(ctx: AccountContext): Promise<AccountResponse> {
    const back = `${ACCOUNT_ROUTES.connections}?checked=1` as const;
    if (!this.local) return this.redirect(ctx, ACCOUNT_ROUTES.connections);
    const token = sessionToken(ctx.req);
    const user = token ? await this.legacy.currentUser(ctx.req, ctx.res) : null;
    if (!user || !token) return this.redirect(ctx, back);
    const maxAgeMs = this.config.login.sessionMaxAgeHours * 3600 * 1000;
    return this.redirect(ctx, back, [
      { name: BRIDGE_SESSION_COOKIE, path: ACCOUNT_COOKIE_PATH, value: token, maxAgeMs },
    ]);
  }

  /** Nobody signed in: the sign-in form (`local`), else the legacy login with a way back here. */
  private async notSignedIn(ctx: AccountContext, query: Record<string, unknown>): Promise<AccountResponse> {
    if (this.local) {
      const signedOut = query.signed_out !== undefined;
      // Signed in at the Login URI? Its session is under /auth: look there once.
      if (!signedOut && query.checked === undefined) return this.redirect(ctx, ACCOUNT_ROUTES.session);
      return this.signInForm(ctx, 200, signedOut ? { notice: 'You are signed out.' } : {});
    }
    const trips = Number(signed(ctx.req)[ACCOUNT_TRIPS_COOKIE]) || 0;
    if (trips >= ACCOUNT_MAX_TRIPS) {
      const info = LOGIN_FAILURES.legacy_session_not_found;
      return {
        status: info.status,
        html: accountProblemPage(info.title, info.message),
        cookies: [{ name: ACCOUNT_TRIPS_COOKIE, path: ACCOUNT_COOKIE_PATH }],
      };
    }
    const loginUrl = this.config.legacy.loginUrl;
    if (!loginUrl) {
      const info = LOGIN_FAILURES.authkit_misconfigured;
      return { status: 503, html: accountProblemPage('Sign-in is not available', info.message) };
    }
    const target = legacyLoginUrl(loginUrl, this.config.legacy.returnToParam, this.returnTo());
    return {
      status: ctx.req.method === 'POST' ? 303 : 302,
      redirect: target,
      cookies: [
        {
          name: ACCOUNT_TRIPS_COOKIE,
          path: ACCOUNT_COOKIE_PATH,
          value: String(trips + 1),
          maxAgeMs: ACCOUNT_TRIPS_MAX_AGE_MS,
        },
      ],
    };
  }

  /** Where the legacy login sends the person back: this page, absolute, from PUBLIC_URL. */
  private returnTo(): string {
    return `${this.config.publicUrl}${ACCOUNT_ROUTES.connections}`;
  }

  /** The signed-in legacy user, null when nobody is, or the page that says the legacy app did not answer. */
  private async currentUser(
    ctx: AccountContext,
  ): Promise<{ user: LegacyUser | null } | { response: AccountResponse }> {
    try {
      return { user: await this.legacy.currentUser(ctx.req, ctx.res) };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.code === 'legacy_unavailable') {
        this.logger.warn({ code: err.code, reason: err.message }, 'legacy strategy failed');
        const info = LOGIN_FAILURES.legacy_unavailable;
        return {
          response: {
            status: 503,
            html: accountProblemPage(info.title, info.message),
            headers: { 'Retry-After': '5' },
          },
        };
      }
      if (err.code === 'legacy_invalid_user') {
        this.logger.warn({ code: err.code, reason: err.message }, 'legacy strategy failed');
        const info = LOGIN_FAILURES.legacy_invalid_user;
        return { response: { status: info.status, html: accountProblemPage(info.title, info.message) } };
      }
      throw err;
    }
  }

  private async listPage(
    ctx: AccountContext,
    user: LegacyUser,
    options: { status: number; banner?: Banner; cookies?: AccountCookie[] },
  ): Promise<AccountResponse> {
    const binding = this.binding(ctx.req);
    const grants = await this.grants.list(user.id);
    const html = connectionsPage({
      user,
      grants,
      csrf: accountCsrfToken(this.config.session.secret, csrfScope(user.id), binding.secret),
      mcpUrl: this.config.mcp.audience.find((a) => /^https?:\/\//.test(a)) ?? `${this.config.publicUrl}/mcp`,
      signOut: this.local ? { kind: 'local' } : { kind: 'legacy', logoutUrl: this.config.legacy.logoutUrl },
      banner: options.banner,
    });
    return { status: options.status, html, cookies: [...binding.cookies, ...(options.cookies ?? [])] };
  }

  private signInForm(
    ctx: AccountContext,
    status: number,
    options: { email?: string; error?: string; notice?: string },
  ): AccountResponse {
    const binding = this.binding(ctx.req);
    const csrf = accountCsrfToken(this.config.session.secret, csrfScope(null), binding.secret);
    return { status, html: accountSignInPage(csrf, options), cookies: binding.cookies };
  }

  /** The banner of a flash cookie, if it names a grant of this user. */
  private async flashBanner(value: unknown, user: LegacyUser): Promise<Banner | undefined> {
    const match = typeof value === 'string' ? FLASH.exec(value) : null;
    if (!match) return undefined;
    const row = await this.store.findById(match[2]);
    if (!row || row.legacyUserId !== user.id) return undefined;
    const name = applicationName({
      clientId: row.clientId,
      clientName: await this.names.nameOf(row.clientId),
    });
    return {
      kind: 'ok',
      text:
        match[1] === 'revoked'
          ? `${name} can no longer act as you. It may have kept working for up to a few seconds.`
          : `${name} was already disconnected: it cannot act as you.`,
    };
  }

  private flash(value: string): AccountCookie {
    return {
      name: ACCOUNT_FLASH_COOKIE,
      path: ACCOUNT_COOKIE_PATH,
      value,
      maxAgeMs: ACCOUNT_FLASH_MAX_AGE_MS,
    };
  }

  /** This browser's binding secret; a new one (and its cookie) when it has none. */
  private binding(req: Request): Binding {
    const existing = bindingSecretOf(signed(req)[ACCOUNT_BINDING_COOKIE]);
    if (existing) return { secret: existing, cookies: [] };
    const secret = newBindingSecret();
    return { secret, cookies: [{ name: ACCOUNT_BINDING_COOKIE, path: ACCOUNT_COOKIE_PATH, value: secret }] };
  }

  private csrfOk(req: Request, legacyUserId: string | null, presented: unknown): boolean {
    const binding = bindingSecretOf(signed(req)[ACCOUNT_BINDING_COOKIE]);
    return accountCsrfMatches(this.config.session.secret, csrfScope(legacyUserId), binding, presented);
  }

  /**
   * As the login forms: a foreign Origin is refused (so is `Origin: null`). Without an Origin, a
   * Referer, when sent, must be of this origin too.
   */
  private sameOrigin(req: Request): boolean {
    const origin = req.headers.origin;
    if (origin !== undefined) return origin === this.origin;
    const referer = req.headers.referer;
    if (!referer) return true;
    try {
      return new URL(referer).origin === this.origin;
    } catch {
      return false;
    }
  }

  private forbidden(): AccountResponse {
    return {
      status: 403,
      html: accountProblemPage('This form has expired', FORM_EXPIRED, 'Back to your connections'),
    };
  }

  /** A redirect to a path of this bridge (never a target taken from the request): 303 after a POST. */
  private redirect(ctx: AccountContext, path: `/${string}`, cookies: AccountCookie[] = []): AccountResponse {
    return { status: ctx.req.method === 'POST' ? 303 : 302, redirect: path, cookies };
  }
}

/** The legacy login URL with the return parameter set (as the Login URI sends people there). */
export function legacyLoginUrl(loginUrl: string, returnToParam: string, returnTo: string): string {
  const target = new URL(loginUrl);
  target.searchParams.set(returnToParam, returnTo);
  return target.toString();
}

const signed = (req: Request): Record<string, unknown> =>
  (req.signedCookies as Record<string, unknown> | undefined) ?? {};

/** The bridge session token this request carries (the cookie at this path). */
const sessionToken = (req: Request): string | undefined => {
  const token = signed(req)[BRIDGE_SESSION_COOKIE];
  return typeof token === 'string' ? token : undefined;
};
