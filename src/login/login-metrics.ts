import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { classifyCompletionError } from '../authkit/completion-errors';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import type { LoginFailureCode } from './login-failures';

/**
 * Every code a pass through the Login URI can end with, as the audit log writes it: `completed`,
 * the sign-in form's `invalid_credentials`, and the failure catalogue (login-failures.ts).
 */
export type LoginOutcomeCode = 'completed' | 'invalid_credentials' | LoginFailureCode;

/**
 * The `outcome` label of each code: a small closed set, never a value taken from a request. The
 * audit log keeps the exact code; the metric groups codes an operator would act on alike. A new
 * failure code does not compile until it has a group here.
 */
export const LOGIN_OUTCOMES = {
  completed: 'completed',
  invalid_credentials: 'invalid_credentials',
  user_disabled: 'account_disabled',
  rate_limited: 'rate_limited',
  invalid_external_auth_id: 'invalid_link',
  login_transaction_invalid: 'expired_or_unknown_transaction',
  login_transaction_expired: 'expired_or_unknown_transaction',
  external_auth_expired: 'expired_or_unknown_transaction',
  login_already_completed: 'already_completed',
  external_auth_session_already_completed: 'already_completed',
  completion_in_progress: 'completion_in_progress',
  connect_cancelled: 'cancelled',
  csrf_failed: 'csrf_rejected',
  legacy_unavailable: 'legacy_unavailable',
  legacy_invalid_user: 'legacy_invalid_user',
  legacy_session_not_found: 'legacy_session_not_found',
  email_not_available: 'email_rejected',
  email_change_not_allowed: 'email_rejected',
  invalid_email: 'email_rejected',
  authkit_rejected: 'authkit_refused',
  redirect_rejected: 'authkit_refused',
  authkit_misconfigured: 'authkit_misconfigured',
  authkit_unavailable: 'authkit_unavailable',
} as const satisfies Record<LoginOutcomeCode, string>;

/**
 * How a completion call ended: `ok` (a redirect_uri came back), `refused` (AuthKit answered with
 * a refusal: a 4xx, our credentials included), `timeout` (no answer within
 * AUTHKIT_COMPLETE_TIMEOUT_MS: the SDK reports it as 408), `error` (5xx, 429, a reset connection).
 */
export type CompletionResult = 'ok' | 'refused' | 'error' | 'timeout';

export function completionResult(err: unknown): Exclude<CompletionResult, 'ok'> {
  const failure = classifyCompletionError(err);
  if (failure.kind !== 'unknown') return 'refused';
  return failure.status === 408 ? 'timeout' : 'error';
}

export const LOGIN_OUTCOMES_METRIC = 'login_outcomes_total';
export const AUTHKIT_COMPLETION_METRIC = 'authkit_completion_duration_seconds';

/**
 * The login flow's Prometheus metrics, in the app's registry (GET /metrics). The one place they
 * change: LoginService reports each ending and times each completion call through here.
 */
@Injectable()
export class LoginMetrics {
  private readonly outcomes: Counter<'strategy' | 'outcome'>;
  private readonly completion: Histogram<'result'>;

  constructor(
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.outcomes = new Counter({
      name: LOGIN_OUTCOMES_METRIC,
      help: 'Endings of a pass through the Login URI (one per audit row, and every rate-limited visit) by legacy strategy and outcome',
      labelNames: ['strategy', 'outcome'] as const,
      registers: [metrics.registry],
    });
    this.completion = new Histogram({
      name: AUTHKIT_COMPLETION_METRIC,
      help: 'Latency of the AuthKit completion call (POST /authkit/oauth2/complete) by result',
      labelNames: ['result'] as const,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
      registers: [metrics.registry],
    });
    // Every series exists from the start at 0, so rate() and alerts see the first event.
    const strategy = this.config.legacy.strategy;
    for (const outcome of new Set(Object.values(LOGIN_OUTCOMES))) this.outcomes.inc({ strategy, outcome }, 0);
    for (const result of ['ok', 'refused', 'error', 'timeout'] as const) this.completion.zero({ result });
  }

  /** One ending of a pass through the Login URI. */
  ended(code: LoginOutcomeCode): void {
    this.outcomes.inc({ strategy: this.config.legacy.strategy, outcome: LOGIN_OUTCOMES[code] });
  }

  /** Runs one completion call and records how long it took and how it ended; rethrows its error. */
  async timeCompletion<T>(call: () => Promise<T>): Promise<T> {
    const stop = this.completion.startTimer();
    try {
      const answer = await call();
      stop({ result: 'ok' });
      return answer;
    } catch (err) {
      stop({ result: completionResult(err) });
      throw err;
    }
  }
}
