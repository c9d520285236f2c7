import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { GrantRegistry } from '../access/grant-registry.service';
import { GrantsService } from '../access/grants.service';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ReadinessRegistry } from '../health/readiness.registry';
import { MetricsService } from '../metrics/metrics.service';
import { LegacyUserClient } from './legacy-user-client';
import { UserStatusStore } from './user-status.store';

/** The `outcome` label of legacy_user_checks_total: a closed set. */
type CheckOutcome = 'unchanged' | 'changed' | 'gone' | 'unanswered' | 'skipped_circuit_open';

/** How many users may be checked at once on one instance (the rest wait their turn). */
const MAX_CONCURRENT_CHECKS = 4;
/** Users known to this instance's scheduler; beyond it the longest idle are forgotten. */
const MAX_TRACKED = 100_000;

/**
 * Keeps what tools see of a caller (roles, tenants, whether the account still exists) close to
 * the legacy app: with LEGACY_USER_URL set, each legacy user who calls /mcp is asked about at
 * most every LEGACY_USER_RECHECK_SECONDS, never on the request's path. `noteCall` is a map
 * lookup; the check runs in the background, one per user at a time on this instance, and one
 * per user across instances (the database claim in UserStatusStore; the others take the answer
 * it records). A changed answer reaches every instance as identity news (the next call gets the
 * new roles); a user the legacy app no longer knows, or reports inactive, loses every grant.
 * While the legacy app does not answer, the last answer stands and the breaker in
 * LegacyUserClient keeps the cost at nothing.
 */
@Injectable()
export class UserRecheckService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('LegacyRecheck');
  /** Legacy user id → when this instance should next look (ms). */
  private readonly nextAt = new Map<string, number>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private running = 0;
  private stopped = false;
  private readonly checks: Counter<'outcome'>;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly client: LegacyUserClient,
    private readonly store: UserStatusStore,
    private readonly grants: GrantsService,
    private readonly registry: GrantRegistry,
    private readonly readiness: ReadinessRegistry,
    metrics: MetricsService,
  ) {
    this.checks = new Counter({
      name: 'legacy_user_checks_total',
      help: 'Rechecks of callers at LEGACY_USER_URL, by outcome (unchanged, changed, gone, unanswered: no usable answer, skipped_circuit_open)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
  }

  get enabled(): boolean {
    return this.client.enabled;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    // Degraded, not down: calls keep working on the last answer while the legacy app is away.
    this.readiness.register({
      name: 'legacy_user_url',
      check: async () => {
        const h = this.client.health();
        return h.failures > 0
          ? { degraded: true, failures: h.failures, circuit: h.open ? 'open' : 'closed', reason: h.lastError }
          : { failures: 0 };
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    await Promise.allSettled([...this.pending]);
  }

  /** The hot path: remembers that this caller is active and schedules a check when one is due. */
  noteCall(caller: { legacyUserId: string | null }, now: number): void {
    const id = caller.legacyUserId;
    if (id === null || !this.enabled || this.stopped) return;
    const next = this.nextAt.get(id);
    if (next !== undefined && next > now) return;
    // Not before the check this schedules has had its chance (it sets the real next time).
    this.track(id, now + this.config.legacy.recheckSeconds * 1000);
    this.enqueue(id);
  }

  /** Checks one user now (tests, and the scheduler). */
  async checkNow(legacyUserId: string): Promise<CheckOutcome | 'not_due'> {
    const recheckSeconds = this.config.legacy.recheckSeconds;
    const { claimed, checkedAt } = await this.store.claim(legacyUserId, recheckSeconds);
    if (!claimed) {
      // Checked recently (or being checked) by some instance: look again when that answer ages.
      if (checkedAt) this.track(legacyUserId, checkedAt.getTime() + recheckSeconds * 1000);
      return 'not_due';
    }
    const lookup = await this.client.lookup(legacyUserId);
    let outcome: CheckOutcome;
    if (lookup.kind === 'unknown') {
      // The claim stays for 30 s, which spaces the next try across instances.
      outcome = this.client.health().open ? 'skipped_circuit_open' : 'unanswered';
      this.track(legacyUserId, Date.now() + 30_000);
      this.logger.warn(
        { reason: lookup.reason },
        'could not recheck a user with the legacy app; the last answer stands',
      );
    } else {
      const { changed, deactivated } = await this.store.record(legacyUserId, lookup.answer);
      this.track(legacyUserId, Date.now() + recheckSeconds * 1000);
      if (changed) this.registry.userChanged(legacyUserId);
      if (lookup.kind === 'gone' || deactivated) {
        const ended = await this.grants.revokeUser(legacyUserId, {
          actor: 'legacy-recheck',
          actorDetail: lookup.kind === 'gone' ? 'legacy app: user gone or inactive' : 'legacy app: inactive',
        });
        this.logger.log(
          { legacyUserId, ended },
          'the legacy app no longer knows this user as active: grants ended',
        );
        outcome = 'gone';
      } else outcome = changed ? 'changed' : 'unchanged';
    }
    this.checks.inc({ outcome });
    return outcome;
  }

  private track(id: string, at: number): void {
    this.nextAt.delete(id);
    if (this.nextAt.size >= MAX_TRACKED) {
      const oldest = this.nextAt.keys().next().value;
      if (oldest !== undefined) this.nextAt.delete(oldest);
    }
    this.nextAt.set(id, at);
  }

  private enqueue(id: string): void {
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push(id);
    this.drain();
  }

  private drain(): void {
    while (this.running < MAX_CONCURRENT_CHECKS && this.queue.length && !this.stopped) {
      const id = this.queue.shift()!;
      this.running++;
      const run = this.checkNow(id)
        .then(
          () => undefined,
          (err: unknown) => {
            this.track(id, Date.now() + 30_000);
            this.logger.warn(`recheck of a user failed: ${(err as Error).message}`);
          },
        )
        .finally(() => {
          this.running--;
          this.queued.delete(id);
          this.pending.delete(run);
          this.drain();
        });
      this.pending.add(run);
    }
  }
}
