import { Injectable } from '@nestjs/common';
import { BridgeSessionService } from '../sessions/bridge-session.service';
import type { LegacyUser } from './legacy-user';
import { LocalUsersService, normalizeEmail } from './local-users.service';
import { RateLimiterService } from './rate-limiter.service';

export type LoginAttempt =
  | { ok: true; user: LegacyUser }
  | {
      ok: false;
      code: 'invalid_credentials' | 'user_disabled' | 'rate_limited';
      userId?: string;
      retryAfterSeconds?: number;
    };

/**
 * The local strategy's decision: rate limits first (per IP and per account on every attempt; the
 * right password clears the account's count), then the password. A locked account is refused
 * before its password is checked, also under a concurrent burst.
 */
@Injectable()
export class LocalLoginService {
  constructor(
    private readonly users: LocalUsersService,
    private readonly limiter: RateLimiterService,
    private readonly sessions: BridgeSessionService,
  ) {}

  /** The enabled local user behind a bridge session token, or null. */
  async sessionUser(token: unknown): Promise<LegacyUser | null> {
    const session = typeof token === 'string' ? await this.sessions.resolve(token) : null;
    return session ? this.users.findActive(session.userId) : null;
  }

  async attempt(email: unknown, password: unknown, ip: string | undefined): Promise<LoginAttempt> {
    const { perIp, perAccount } = this.limiter.limits;
    const ipState = await this.limiter.hit(
      RateLimiterService.key('ip', ip ?? 'unknown'),
      perIp.windowSeconds,
    );
    if (ipState.count > perIp.limit) {
      return { ok: false, code: 'rate_limited', retryAfterSeconds: ipState.retryAfterSeconds };
    }
    if (typeof email !== 'string' || typeof password !== 'string' || !email.trim() || !password) {
      return { ok: false, code: 'invalid_credentials' };
    }
    const accountKey = RateLimiterService.key('account', normalizeEmail(email));
    // The attempt is counted before the password is checked, so that a burst of concurrent
    // guesses cannot all pass a "not locked yet" check: exactly `limit` of them are checked.
    const accountState = await this.limiter.hit(accountKey, perAccount.windowSeconds);
    if (accountState.count > perAccount.limit) {
      return { ok: false, code: 'rate_limited', retryAfterSeconds: accountState.retryAfterSeconds };
    }
    const check = await this.users.verifyPassword(email, password);
    if (!check.ok && check.code === 'invalid_credentials') return check;
    // The right password (of an enabled or a disabled account): the failures so far are forgiven.
    await this.limiter.reset(accountKey);
    return check;
  }
}
