import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { lenientTenants, rolesFrom } from '../legacy-session/legacy-user';
import type { LegacyAnswer } from './user-status.store';

/** What the legacy app said about one user. */
export type UserLookup =
  | { kind: 'user'; answer: LegacyAnswer }
  /** 404, 410 or `"active": false`: the user is gone or disabled. */
  | { kind: 'gone'; answer: LegacyAnswer }
  /** Anything else, no answer in time, or the circuit is open: the last known answer stands. */
  | { kind: 'unknown'; reason: string };

/** A circuit breaker's state, for /readyz and the metrics. */
export interface LegacyUserSourceHealth {
  /** Consecutive failures (0 when the last call was answered). */
  failures: number;
  /** While open, no call is made: every lookup is `unknown` at once. */
  open: boolean;
  lastError?: string;
}

/** After this many failures in a row the circuit opens… */
const FAILURES_TO_OPEN = 5;
/** …for this long; then one call is let through to see whether the legacy app is back. */
const OPEN_MS = 30_000;
/** The largest answer read (a user's roles and tenants, not a page). */
const MAX_BYTES = 64 * 1024;

const answerSchema = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  active: z.boolean().optional(),
  roles: z.unknown().optional(),
  tenants: z.unknown().optional(),
});

/**
 * Asks the legacy app about one user: `GET LEGACY_USER_URL` (`{id}` replaced) with
 * `Authorization: Bearer $LEGACY_USER_TOKEN`, within LEGACY_TIMEOUT_MS, answers of at most 64
 * KiB, no redirects. A circuit breaker stops asking for 30 s after five failures in a row, so a
 * legacy app that is down costs nothing per call and is not hammered while it recovers.
 */
@Injectable()
export class LegacyUserClient {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private lastError?: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get enabled(): boolean {
    return Boolean(this.config.legacy.userUrl && this.config.legacy.userToken);
  }

  health(now = Date.now()): LegacyUserSourceHealth {
    return {
      failures: this.failures,
      open: this.openUntil > now,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async lookup(legacyUserId: string, now = Date.now()): Promise<UserLookup> {
    const { userUrl, userToken, timeoutMs } = this.config.legacy;
    if (!userUrl || !userToken) return { kind: 'unknown', reason: 'LEGACY_USER_URL is not set' };
    if (this.openUntil > now || (this.failures >= FAILURES_TO_OPEN && this.probing))
      return { kind: 'unknown', reason: 'the legacy app did not answer lately (circuit open)' };
    const halfOpen = this.failures >= FAILURES_TO_OPEN;
    if (halfOpen) this.probing = true;
    try {
      const outcome = await this.ask(
        userUrl.replace('{id}', encodeURIComponent(legacyUserId)),
        userToken,
        timeoutMs,
      );
      if (outcome.kind === 'unknown') this.failed(outcome.reason, now);
      else this.answered();
      return outcome;
    } finally {
      if (halfOpen) this.probing = false;
    }
  }

  private async ask(url: string, token: string, timeoutMs: number): Promise<UserLookup> {
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      return {
        kind: 'unknown',
        reason: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `unreachable (${e.name})`,
      };
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      return { kind: 'gone', answer: { active: false, roles: [], tenants: [] } };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return { kind: 'unknown', reason: `answered HTTP ${res.status}` };
    }
    const text = await readLimited(res, MAX_BYTES);
    if (text === undefined) return { kind: 'unknown', reason: 'answered more than 64 KiB' };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { kind: 'unknown', reason: 'answered something that is not JSON' };
    }
    const parsed = answerSchema.safeParse(body);
    if (!parsed.success) return { kind: 'unknown', reason: 'answered JSON that is not a user' };
    const answer: LegacyAnswer = {
      active: parsed.data.active !== false,
      // Entry by entry: one malformed role or tenant does not cost the others.
      roles: rolesFrom(parsed.data.roles),
      tenants: lenientTenants(parsed.data.tenants) ?? [],
    };
    return answer.active ? { kind: 'user', answer } : { kind: 'gone', answer };
  }

  private answered(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.lastError = undefined;
  }

  private failed(reason: string, now: number): void {
    this.failures++;
    this.lastError = reason;
    if (this.failures >= FAILURES_TO_OPEN) this.openUntil = now + OPEN_MS;
  }
}

async function readLimited(res: Response, max: number): Promise<string | undefined> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
