import { randomBytes } from 'node:crypto';
import { BRIDGE_COOKIE_PREFIX } from '../../legacy-session/cookie-header';
import { csrfToken, csrfTokenMatches } from '../../login/login-cookies';

/**
 * The person's page keeps its cookies under /account (as the login flow keeps its own under
 * /auth): MCP and API routes never see them. All are signed, `HttpOnly`, `SameSite=Lax`, and
 * named `cbridge_*`, so they are never forwarded to the legacy app.
 */
export const ACCOUNT_COOKIE_PATH = '/account';

/**
 * The secret the CSRF tokens of this browser's account forms derive from (as a login
 * transaction's binding secret does for the login forms); a browser-session cookie.
 */
export const ACCOUNT_BINDING_COOKIE = `${BRIDGE_COOKIE_PREFIX}account`;
/** What the page says once after a redirect (a revocation): `<kind>:<grant id>`, one minute. */
export const ACCOUNT_FLASH_COOKIE = `${BRIDGE_COOKIE_PREFIX}account_flash`;
export const ACCOUNT_FLASH_MAX_AGE_MS = 60_000;
/** Trips to the legacy login without a session coming back (a redirect loop guard), five minutes. */
export const ACCOUNT_TRIPS_COOKIE = `${BRIDGE_COOKIE_PREFIX}account_trips`;
export const ACCOUNT_TRIPS_MAX_AGE_MS = 5 * 60_000;
/** Trips to the legacy login before the page says the session cannot be seen. */
export const ACCOUNT_MAX_TRIPS = 3;

const SECRET = /^[A-Za-z0-9_-]{43}$/;

export const newBindingSecret = (): string => randomBytes(32).toString('base64url');

/** The binding secret a signed cookie value holds, or undefined when it is not one. */
export const bindingSecretOf = (value: unknown): string | undefined =>
  typeof value === 'string' && SECRET.test(value) ? value : undefined;

/**
 * What a form's token is bound to: the signed-in legacy user (every form of the connections
 * page) or, before anyone is signed in, the sign-in form itself (login CSRF).
 */
export const csrfScope = (legacyUserId: string | null): string =>
  legacyUserId === null ? 'account|sign-in' : `account|user|${legacyUserId}`;

/** The login pages' CSRF token (an HMAC of the scope and this browser's binding secret). */
export const accountCsrfToken = (serverSecret: string, scope: string, binding: string): string =>
  csrfToken(serverSecret, scope, binding);

export const accountCsrfMatches = (
  serverSecret: string,
  scope: string,
  binding: string | undefined,
  presented: unknown,
): boolean => binding !== undefined && csrfTokenMatches(serverSecret, scope, binding, presented);
