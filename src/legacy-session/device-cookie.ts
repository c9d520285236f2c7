import { createHmac } from 'node:crypto';
import type { Response } from 'express';
import { BRIDGE_COOKIE_PREFIX } from './cookie-header';

/**
 * "This browser signed in as that account before": set on every successful password sign-in,
 * read before the next one. It exempts the browser from the per-account ceiling of sign-in
 * attempts (LOGIN_RATE_LIMIT_PER_ACCOUNT), so that guesses spread over many addresses cannot lock
 * the owner out of the browser they use; every other limit (per address, per account and
 * address, per instance) still applies to it. It is no credential: it signs nobody in.
 */
export const DEVICE_COOKIE = `${BRIDGE_COOKIE_PREFIX}device`;
/** Both sign-in forms see it: the Login URI's (/auth/login/local) and the account page's (/account/sign-in). */
export const DEVICE_COOKIE_PATHS = ['/auth', '/account'] as const;
export const DEVICE_COOKIE_MAX_AGE_DAYS = 90;
/** Accounts one browser is remembered for (the latest first). */
const MAX_ACCOUNTS = 5;
const DAY = 86_400;
const ENTRY = /^([A-Za-z0-9_-]{22})\.(\d{1,12})$/;

interface Entry {
  tag: string;
  at: number;
}

/**
 * The cookie's value is a list of `<tag>.<unix seconds>` entries, one per account, where the
 * tag is an HMAC of the normalized email with SESSION_SECRET (no email in the cookie); the
 * whole value is signed by cookie-parser with SESSION_SECRET (`signed: true`, read back from
 * `req.signedCookies`, where a tampered value is `false`). Entries older than 90 days do not count.
 */
export class DeviceCookies {
  constructor(
    private readonly secret: string,
    private readonly secure: boolean,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Whether the (signature-checked) cookie value names `account` (a normalized email). */
  knows(value: unknown, account: string): boolean {
    const tag = this.tag(account);
    return this.entries(value).some((e) => e.tag === tag);
  }

  /** The value after a successful sign-in as `account`: it first, the others kept, at most five. */
  remember(value: unknown, account: string): string {
    const tag = this.tag(account);
    const others = this.entries(value).filter((e) => e.tag !== tag);
    return [{ tag, at: this.seconds() }, ...others]
      .slice(0, MAX_ACCOUNTS)
      .map((e) => `${e.tag}.${e.at}`)
      .join('~');
  }

  /** Sets the cookie like the bridge's other cookies: signed, HttpOnly, SameSite=Lax, Secure behind https. */
  write(res: Response, value: string): void {
    for (const path of DEVICE_COOKIE_PATHS) {
      res.cookie(DEVICE_COOKIE, value, {
        httpOnly: true,
        sameSite: 'lax',
        secure: this.secure,
        signed: true,
        path,
        maxAge: DEVICE_COOKIE_MAX_AGE_DAYS * DAY * 1000,
      });
    }
  }

  private tag(account: string): string {
    return createHmac('sha256', this.secret).update(`device|${account}`).digest('base64url').slice(0, 22);
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private entries(value: unknown): Entry[] {
    if (typeof value !== 'string' || value.length > 1000) return [];
    const now = this.seconds();
    const out: Entry[] = [];
    for (const part of value.split('~').slice(0, MAX_ACCOUNTS)) {
      const m = ENTRY.exec(part);
      const at = m ? Number(m[2]) : NaN;
      if (m && at > now - DEVICE_COOKIE_MAX_AGE_DAYS * DAY && at <= now + 60) out.push({ tag: m[1], at });
    }
    return out;
  }
}
