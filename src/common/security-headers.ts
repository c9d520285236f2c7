import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of every response. The service's pages (one layout, src/common/html.ts)
 * load nothing: no scripts, no external assets, an inline stylesheet. `form-action` is deliberately
 * absent: the sign-in forms end in redirects to AuthKit and on to the MCP client's redirect URI (any
 * origin), and browsers apply form-action to every hop of those redirects.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'none'"],
  'style-src': ["'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Security headers on every response (helmet): the CSP above, `X-Frame-Options: DENY`,
 * `Referrer-Policy: same-origin`, `nosniff`, `Cross-Origin-Opener-Policy`/`-Resource-Policy:
 * same-origin`, and HSTS (one year) only when PUBLIC_URL is https: over plain http it would be
 * ignored at best and pin a development host at worst.
 */
export function securityHeaders(options: { https: boolean }): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    strictTransportSecurity: options.https ? { maxAge: 365 * 24 * 3600, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    // same-origin: never a referrer to other sites, but same-origin form posts keep their Origin
    // header (no-referrer makes Chromium send `Origin: null`, which the CSRF check refuses).
    referrerPolicy: { policy: 'same-origin' },
  }) as RequestHandler;
}

/**
 * The headers securityHeaders() sets, computed once by running the same helmet middleware against
 * a recorder: the MCP front door (src/mcp/http/mcp-front-door.ts) sets exactly these on every
 * answer it gives outside Express, without running helmet per request.
 */
export function securityHeaderList(options: { https: boolean }): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, readonly [string, string]>();
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.set(name.toLowerCase(), [name, String(value)]);
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
    getHeader: (name: string) => headers.get(name.toLowerCase())?.[1],
  };
  let called = false;
  const request = { method: 'GET', url: '/', headers: {}, secure: options.https };
  securityHeaders(options)(request as never, recorder as never, (() => (called = true)) as never);
  if (!called) throw new Error('helmet did not finish synchronously');
  return Object.freeze([...headers.values()]);
}
