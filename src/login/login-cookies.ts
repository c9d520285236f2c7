import { createHmac, timingSafeEqual } from 'node:crypto';
import { BRIDGE_COOKIE_PREFIX } from '../legacy-session/cookie-header';

/** One signed cookie per transaction (so two flows in one browser do not collide). */
export const TX_COOKIE_PREFIX = `${BRIDGE_COOKIE_PREFIX}tx_`;
export const txCookieName = (txId: string): string => `${TX_COOKIE_PREFIX}${txId}`;
/** Every bridge cookie lives under /auth: MCP and API routes never see them. */
export const COOKIE_PATH = '/auth';

/**
 * The CSRF token of a transaction's forms, derived (stateless) from the binding secret that
 * only this browser's cookie holds: a page on another site can neither read nor forge it.
 */
export function csrfToken(serverSecret: string, txId: string, bindingSecret: string): string {
  return createHmac('sha256', serverSecret).update(`csrf|${txId}|${bindingSecret}`).digest('base64url');
}

export function csrfTokenMatches(
  serverSecret: string,
  txId: string,
  bindingSecret: string,
  presented: unknown,
): boolean {
  if (typeof presented !== 'string' || presented.length > 100) return false;
  const expected = Buffer.from(csrfToken(serverSecret, txId, bindingSecret));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
