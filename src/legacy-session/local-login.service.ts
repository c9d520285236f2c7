import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { BridgeSessionService } from '../sessions/bridge-session.service';
import { DeviceCookies } from './device-cookie';
import type { LegacyUser } from './legacy-user';
import { LocalUsersService, normalizeEmail } from './local-users.service';
import { RateLimiterService } from './rate-limiter.service';
import { SignInBusyError } from './sign-in-capacity';

export type LoginAttempt =
  | { ok: true; user: LegacyUser; /** The device cookie's new value (DeviceCookies). */ device?: string }
  | {
      ok: false;
      code: 'invalid_credentials' | 'user_disabled' | 'rate_limited';
      userId?: string;
      retryAfterSeconds?: number;
    };

/** Who is asking: the client address (`req.ip`) and the signature-checked device cookie, if any. */
export interface SignInClient {
  ip?: string;
  device?: unknown;
}

/** Refusals for lack of room are logged at most this often (a flood must not flood the log). */
const BUSY_LOG_INTERVAL_MS = 10_000;

/**
 * The local strategy's decision. In this order, each limit counted before the password is
 * checked (so that a concurrent burst gets exactly the limit through, never more):
 *
 * 1. the instance's ceiling (in memory; beyond it SignInBusyError, nothing written);
 * 2. per client address, every attempt (an IPv6 client is its /64);
 * 3. per account and address, the hard limit: the right password clears it. Guesses from one
 *    place end there, without locking the owner out anywhere else;
 * 4. per account from all addresses, a ceiling against guesses spread over many addresses. A
 *    browser with a device cookie for the account is exempt (the owner's usual browser gets
 *    through an attack); the right password is not counted, but does not clear it;
 * 5. the password, through PasswordHasher's ceiling on concurrent checks (SignInBusyError).
 */
@Injectable()
export class LocalLoginService {
  private readonly logger = new Logger('LocalLogin');
  readonly devices: DeviceCookies;
  private busy = { refused: 0, loggedAt: -Infinity };

  constructor(
    private readonly users: LocalUsersService,
    private readonly limiter: RateLimiterService,
    private readonly sessions: BridgeSessionService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.devices = new DeviceCookies(config.session.secret, config.secureCookies);
  }

  /** The enabled local user behind a bridge session token, or null. */
  async sessionUser(token: unknown): Promise<LegacyUser | null> {
    const session = typeof token === 'string' ? await this.sessions.resolve(token) : null;
    return session ? this.users.findActive(session.userId) : null;
  }

  async attempt(email: unknown, password: unknown, client: SignInClient): Promise<LoginAttempt> {
    try {
      return await this.decide(email, password, client);
    } catch (err) {
      if (err instanceof SignInBusyError) this.noteBusy();
      throw err;
    }
  }

  private async decide(email: unknown, password: unknown, client: SignInClient): Promise<LoginAttempt> {
    const { perIp, perAccount, perAccountAndIp } = this.limiter.limits;
    const full = this.limiter.takeInstanceSlot();
    if (full) throw new SignInBusyError(full.retryAfterSeconds);
    const address = this.limiter.addressKey(client.ip);
    const ipState = await this.limiter.hit(RateLimiterService.key('ip', address), perIp.windowSeconds);
    if (ipState.count > perIp.limit) {
      return { ok: false, code: 'rate_limited', retryAfterSeconds: ipState.retryAfterSeconds };
    }
    if (typeof email !== 'string' || typeof password !== 'string' || !email.trim() || !password) {
      return { ok: false, code: 'invalid_credentials' };
    }
    const account = normalizeEmail(email);
    const pairKey = RateLimiterService.key('account-ip', `${address}|${account}`);
    const pairState = await this.limiter.hit(pairKey, perAccountAndIp.windowSeconds);
    if (pairState.count > perAccountAndIp.limit) {
      return { ok: false, code: 'rate_limited', retryAfterSeconds: pairState.retryAfterSeconds };
    }
    const knownDevice = this.devices.knows(client.device, account);
    const accountKey = knownDevice ? undefined : RateLimiterService.key('account', account);
    if (accountKey) {
      const accountState = await this.limiter.hit(accountKey, perAccount.windowSeconds);
      if (accountState.count > perAccount.limit) {
        return { ok: false, code: 'rate_limited', retryAfterSeconds: accountState.retryAfterSeconds };
      }
    }
    const check = await this.users.verifyPassword(email, password);
    if (!check.ok && check.code === 'invalid_credentials') return check;
    // The right password (of an enabled or a disabled account): this address's failures are
    // forgiven, and the attempt was no guess. Failures from elsewhere stay counted.
    await this.limiter.reset(pairKey);
    if (accountKey) await this.limiter.undo(accountKey);
    return check.ok ? { ...check, device: this.devices.remember(client.device, account) } : check;
  }

  private noteBusy(): void {
    this.busy.refused++;
    const now = performance.now();
    if (now - this.busy.loggedAt < BUSY_LOG_INTERVAL_MS) return;
    this.logger.warn(
      { code: 'sign_in_busy', refused: this.busy.refused },
      'sign-in attempts refused: this instance is at its ceiling (LOGIN_RATE_LIMIT_PER_SECOND, PASSWORD_HASH_*)',
    );
    this.busy = { refused: 0, loggedAt: now };
  }
}
