import type { CookieOptions, Response } from 'express';

/** A cookie to set (with a value) or clear (without); `path` defaults to the route family's. */
export interface PageCookie {
  name: string;
  value?: string;
  maxAgeMs?: number;
  path?: string;
}

/** What a browser-facing service method answers: a page or a same-origin redirect, cookies, headers. */
export interface PageResponse {
  status: number;
  html?: string;
  redirect?: string;
  cookies?: PageCookie[];
  headers?: Record<string, string>;
}

/** Never cached (security headers are on every response: security-headers.ts). */
const PAGE_HEADERS: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * Writes a PageResponse: cookies signed, HttpOnly, SameSite=Lax, Secure behind https, at
 * `defaultPath` unless the cookie names its own; then the redirect or the HTML page.
 */
export function sendPage(
  res: Response,
  out: PageResponse,
  options: { secure: boolean; defaultPath: string },
): void {
  const base: CookieOptions = { httpOnly: true, sameSite: 'lax', secure: options.secure, signed: true };
  for (const c of out.cookies ?? []) {
    const path = c.path ?? options.defaultPath;
    if (c.value === undefined) res.clearCookie(c.name, { ...base, path, signed: false });
    else res.cookie(c.name, c.value, { ...base, path, ...(c.maxAgeMs ? { maxAge: c.maxAgeMs } : {}) });
  }
  res.set({ ...PAGE_HEADERS, ...out.headers });
  if (out.redirect) {
    res.redirect(out.status, out.redirect);
    return;
  }
  res
    .status(out.status)
    .type('html')
    .send(out.html ?? '');
}
