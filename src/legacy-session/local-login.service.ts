import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { BridgeSessionService } from '../sessions/bridge-session.service';
import { DeviceCookies } from './device-cookie';
import type { LegacyUser } from './legacy-user';
import { LocalUsersService, normalizeEmail, toLegacyUser } from './local-users.service';
import { RateLimiterService, type CountedLimit } from './rate-limiter.service';
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
    const user = typeof token === 'string' ? await this.sessions.localUser(token) : null;
    return user && !user.disabled ? toLegacyUser(user) : null;
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
    // Limits 2 to 4, counted in one statement, each only while the ones before it held (a
    // malformed attempt is counted per address only).
    const limits: CountedLimit[] = [{ key: RateLimiterService.key('ip', address), ...perIp }];
    const wellFormed =
      typeof email === 'string' && typeof password === 'string' && !!email.trim() && !!password;
    const account = wellFormed ? normalizeEmail(email) : '';
    const pairKey = RateLimiterService.key('account-ip', `${address}|${account}`);
    const knownDevice = wellFormed && this.devices.knows(client.device, account);
    const accountKey = knownDevice ? undefined : RateLimiterService.key('account', account);
    if (wellFormed) {
      limits.push({ key: pairKey, ...perAccountAndIp });
      if (accountKey) limits.push({ key: accountKey, ...perAccount });
    }
    const states = await this.limiter.hitInTurn(limits);
    const over = states.findIndex((state, i) => state.count > limits[i].limit);
    if (over >= 0)
      return { ok: false, code: 'rate_limited', retryAfterSeconds: states[over].retryAfterSeconds };
    if (!wellFormed) return { ok: false, code: 'invalid_credentials' };
    const check = await this.users.verifyPassword(email, password);
    if (!check.ok && check.code === 'invalid_credentials') return check;
    // The right password (of an enabled or a disabled account): this address's failures are
    // forgiven, and the attempt was no guess. Failures from elsewhere stay counted.
    await this.limiter.resetAndUndo(pairKey, accountKey);
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
