import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import { AuthKitClient } from '../authkit/authkit-client';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AccessMetrics } from './access-metrics';
import { GrantRegistry } from './grant-registry.service';
import { GrantStore, REVOCATION_CHANNEL } from './grant.store';

/** Every this many polls, revoked grants whose AuthKit session is still open are looked at. */
const SESSION_SWEEP_EVERY = 5;

/**
 * Brings revocations from the database to this instance's GrantRegistry, on every database the
 * same way: a poll of grant_revocations every GRANT_REVOCATION_POLL_MS (1 s by default), woken at
 * once by PostgreSQL NOTIFY when a listener connection is up. So a revocation reaches every
 * instance within the poll interval even when notifications are lost.
 *
 * It also ends, best effort, the AuthKit session behind each revoked grant (one instance claims
 * each grant) and records the outcome on the grant; the bridge's own refusal does not depend on it.
 */
@Injectable()
export class RevocationFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('RevocationFeed');
  private lastSeq = 0n;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private again = false;
  private polls = 0;
  private listener?: Client;
  private stopped = false;
  private sweeping?: Promise<void>;

  constructor(
    private readonly store: GrantStore,
    private readonly registry: GrantRegistry,
    private readonly authkit: AuthKitClient,
    private readonly metrics: AccessMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      this.lastSeq = await this.store.latestRevocationSeq();
    } catch (err) {
      this.logger.warn(`could not read the latest revocation yet: ${(err as Error).message}`);
    }
    this.timer = setInterval(() => void this.poll(), this.config.access.revocationPollMs).unref();
    if (this.config.database.kind === 'postgres') void this.listen(this.config.database.url);
  }

  /** Stops before the database closes (DatabaseModule, global, is destroyed last). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.polling;
    await this.sweeping;
  }

  /** Reads new revocations now (coalesced: a poll asked for while one runs runs once after it). */
  poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = this.read().finally(() => {
      this.polling = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.poll();
      }
    });
    return this.polling;
  }

  /** Ends the AuthKit sessions of revoked grants now (after a revocation on this instance). */
  sweepSessions(): Promise<void> {
    this.sweeping ??= this.endSessions().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async read(): Promise<void> {
    try {
      const events = await this.store.revocationsSince(this.lastSeq);
      if (events.length) {
        this.registry.apply(events);
        const newest = events[events.length - 1].seq;
        if (newest > this.lastSeq) this.lastSeq = newest;
      }
    } catch (err) {
      this.logger.warn(`could not read revocations: ${(err as Error).message}`);
    }
    if (++this.polls % SESSION_SWEEP_EVERY === 0 && !this.stopped) void this.sweepSessions();
  }

  private async endSessions(): Promise<void> {
    try {
      for (;;) {
        const claimed = await this.store.claimSessionsToEnd();
        if (claimed.length === 0 || this.stopped) return;
        for (const grant of claimed) {
          const outcome = grant.sessionId
            ? await this.authkit.endSession(grant.workosUserId, grant.sessionId)
            : 'skipped';
          this.metrics.sessionEnded(outcome);
          await this.store.recordSessionOutcome(grant.id, outcome);
        }
      }
    } catch (err) {
      this.logger.warn(`could not end AuthKit sessions of revoked grants: ${(err as Error).message}`);
    }
  }

  /** A dedicated connection that LISTENs; reconnects with backoff while the instance runs. */
  private async listen(url: string, attempt = 0): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    const retry = () => {
      if (this.stopped || this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      setTimeout(() => void this.listen(url, attempt + 1), delay).unref();
    };
    client.on('error', (err) => {
      this.logger.warn(`revocation listener: ${err.message}; polling carries on`);
      retry();
    });
    client.on('end', retry);
    client.on('notification', () => void this.poll());
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
      attempt = 0;
      // Anything announced while this connection was down.
      void this.poll();
    } catch (err) {
      this.logger.warn(`revocation listener could not connect: ${(err as Error).message}`);
      retry();
    }
  }
}
