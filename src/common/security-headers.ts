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
