import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { isDatabaseUnavailable } from '../database/prisma-errors';
import { AccessMetrics } from './access-metrics';
import { GrantStore, type GrantFirstSight, type GrantRow, type RevocationEvent } from './grant.store';

/** One grant as this instance knows it. Cached tokens hold a reference and check it on every call. */
export interface GrantState {
  readonly id: string;
  readonly legacyUserId: string | null;
  readonly createdAtMs: number;
  revoked: boolean;
  /**
   * Bumped when the legacy app's answer about this grant's user changed (roles, tenants): a
   * cached caller built under an older version is built again.
   */
  identityVersion: number;
  /** Dropped from the registry's memory: a cached token holding it must be looked up again. */
  evicted: boolean;
  /** Last use on this instance (ms); written to the database in batches. */
  lastUsedMs: number;
  flushedMs: number;
}

/** The grant store could not be asked: the call gets a 503 and may be retried. */
export class GrantsUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('The access records cannot be read right now; try again shortly.', options);
    this.name = 'GrantsUnavailableError';
  }
}

/** The grant behind a token ended (or was born ended by a user-wide revocation). */
export class GrantRevokedError extends Error {
  constructor() {
    super('grant revoked');
    this.name = 'GrantRevokedError';
  }
}

const keyOf = (k: { workosUserId: string; clientId: string; sessionId: string }) =>
  `${k.workosUserId}\n${k.clientId}\n${k.sessionId}`;

/**
 * The grants this instance has seen, in memory, so that /mcp makes no database round trip per
 * call: a token's grant is read (or recorded) once, the first time this instance sees the
 * authorization; every later token of it (refreshes included) finds it here. Revocations
 * arrive through `apply` (the RevocationFeed) and flip `revoked` on the shared state, which the
 * verified-token cache checks on every hit. Last-use times are written in one statement every
 * GRANT_LAST_USED_FLUSH_SECONDS.
 */
@Injectable()
export class GrantRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  static readonly MAX_GRANTS = 100_000;

  private readonly logger = new Logger('Grants');
  private readonly byKey = new Map<string, GrantState>();
  private readonly byId = new Map<string, GrantState>();
  /** The grants of each legacy user: user-wide news touches those, not every grant in memory. */
  private readonly byUser = new Map<string, Set<GrantState>>();
  private readonly inflight = new Map<string, Promise<GrantState>>();
  private readonly userChangeListeners: Array<(legacyUserId: string) => void> = [];
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    private readonly store: GrantStore,
    private readonly metrics: AccessMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.flushTimer = setInterval(
      () => void this.flush(),
      this.config.access.lastUsedFlushSeconds * 1000,
    ).unref();
  }

  /** Last uses are written before the database closes (DatabaseModule, global, is destroyed last). */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flush();
  }

  /**
   * The grant of a verified token, or rejects with GrantRevokedError (ended) or
   * GrantsUnavailableError (first sight while the database is unreachable).
   */
  async admit(sight: GrantFirstSight, now: number): Promise<GrantState> {
    const key = keyOf(sight);
    let state = this.byKey.get(key);
    if (state === undefined) {
      let pending = this.inflight.get(key);
      if (!pending) {
        pending = this.load(key, sight).finally(() => this.inflight.delete(key));
        this.inflight.set(key, pending);
      }
      state = await pending;
    }
    if (state.revoked) throw this.refuse();
    state.lastUsedMs = now;
    return state;
  }

  /** Counts a refused token and returns the error to throw. */
  refuse(): GrantRevokedError {
    this.metrics.tokenRefused('revoked');
    return new GrantRevokedError();
  }

  /** Called with the legacy user id whenever news says their roles, tenants or status changed. */
  onUserChanged(listener: (legacyUserId: string) => void): void {
    this.userChangeListeners.push(listener);
  }

  /** Applies revocation and identity news (from this instance or another). */
  apply(events: readonly RevocationEvent[]): void {
    for (const event of events) {
      if (event.kind === 'identity') {
        if (event.legacyUserId) this.userChanged(event.legacyUserId);
        continue;
      }
      if (event.grantId) {
        const state = this.byId.get(event.grantId);
        if (state) state.revoked = true;
      }
      if (event.legacyUserId) {
        // Grants recorded after the revocation come from a newer sign-in: they stay.
        const before = event.createdAt.getTime();
        for (const state of this.grantsOf(event.legacyUserId))
          if (state.createdAtMs <= before) state.revoked = true;
      }
    }
  }

  /** Makes callers of this legacy user be built again (their roles or tenants changed). */
  userChanged(legacyUserId: string): void {
    for (const listener of this.userChangeListeners) listener(legacyUserId);
    for (const state of this.grantsOf(legacyUserId)) state.identityVersion++;
  }

  private grantsOf(legacyUserId: string): Iterable<GrantState> {
    return this.byUser.get(legacyUserId) ?? [];
  }

  /** Marks rows this instance just ended (before the feed brings the news back). */
  applyRows(rows: readonly Pick<GrantRow, 'id'>[]): void {
    for (const row of rows) {
      const state = this.byId.get(row.id);
      if (state) state.revoked = true;
    }
  }

  /** This instance's last use of a grant (ms), when newer than what the database holds. */
  lastUsed(id: string): number | undefined {
    return this.byId.get(id)?.lastUsedMs;
  }

  /** Writes every last use not yet written, in one statement. */
  flush(): Promise<void> {
    this.flushing ??= this.writeLastUses().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async writeLastUses(): Promise<void> {
    const uses: Array<{ id: string; at: number }> = [];
    for (const state of this.byId.values())
      if (state.lastUsedMs > state.flushedMs) uses.push({ id: state.id, at: state.lastUsedMs });
    if (uses.length === 0) return;
    try {
      for (let i = 0; i < uses.length; i += 1000) await this.store.recordLastUse(uses.slice(i, i + 1000));
      for (const use of uses) {
        const state = this.byId.get(use.id);
        if (state && state.flushedMs < use.at) state.flushedMs = use.at;
      }
    } catch (err) {
      this.logger.warn(`could not record when grants were last used: ${(err as Error).message}`);
    }
  }

  private async load(key: string, sight: GrantFirstSight): Promise<GrantState> {
    let found: { row: GrantRow; created: boolean };
    try {
      found = await this.store.findOrCreate(sight);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw new GrantsUnavailableError({ cause: err });
      throw err;
    }
    const { row, created } = found;
    if (created) this.metrics.grantCreated(row.revokedAt !== null);
    const state: GrantState = {
      id: row.id,
      legacyUserId: row.legacyUserId,
      createdAtMs: row.createdAt.getTime(),
      revoked: row.revokedAt !== null,
      identityVersion: 0,
      evicted: false,
      lastUsedMs: row.lastUsedAt.getTime(),
      flushedMs: row.lastUsedAt.getTime(),
    };
    // A revocation that landed while this was being read is in the feed; the next poll applies it.
    if (this.byKey.size >= GrantRegistry.MAX_GRANTS) this.evictOldest();
    this.byKey.set(key, state);
    this.byId.set(state.id, state);
    if (state.legacyUserId !== null) {
      const grants = this.byUser.get(state.legacyUserId);
      if (grants) grants.add(state);
      else this.byUser.set(state.legacyUserId, new Set([state]));
    }
    return state;
  }

  private evictOldest(): void {
    const oldest = this.byKey.entries().next().value;
    if (!oldest) return;
    const [key, state] = oldest;
    this.byKey.delete(key);
    this.byId.delete(state.id);
    if (state.legacyUserId !== null) {
      const grants = this.byUser.get(state.legacyUserId);
      grants?.delete(state);
      if (grants?.size === 0) this.byUser.delete(state.legacyUserId);
    }
    state.evicted = true;
  }
}
