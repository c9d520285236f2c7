import type { AppConfig } from '../../src/config/app-config';
import { AccessMetrics } from '../../src/access/access-metrics';
import { GrantRegistry } from '../../src/access/grant-registry.service';
import type { GrantFirstSight, GrantRow, GrantStore } from '../../src/access/grant.store';
import { MetricsService } from '../../src/metrics/metrics.service';

/**
 * The part of GrantStore the hot path uses, in memory: for unit tests of one class and for the
 * bench's in-process scenarios. The end-to-end suites use the real store on a real database.
 */
export class MemoryGrantStore {
  readonly rows = new Map<string, GrantRow>();
  reads = 0;

  async findOrCreate(sight: GrantFirstSight): Promise<{ row: GrantRow; created: boolean }> {
    this.reads++;
    const key = `${sight.workosUserId}|${sight.clientId}|${sight.sessionId}`;
    const existing = this.rows.get(key);
    if (existing) return { row: existing, created: false };
    const now = new Date();
    const row: GrantRow = {
      id: `grant_${this.rows.size + 1}`,
      workosUserId: sight.workosUserId,
      clientId: sight.clientId,
      sessionId: sight.sessionId,
      legacyUserId: sight.legacyUserId,
      scopes: sight.scopes.join(' '),
      transactionId: null,
      createdAt: now,
      lastUsedAt: now,
      revokedAt: null,
      revokedBy: null,
      authkitSession: null,
    };
    this.rows.set(key, row);
    return { row, created: true };
  }

  async recordLastUse(): Promise<void> {}
}

/** A GrantRegistry on a MemoryGrantStore. */
export function memoryGrantRegistry(config: AppConfig, store = new MemoryGrantStore()) {
  const metrics = new AccessMetrics(new MetricsService());
  return {
    store,
    metrics,
    registry: new GrantRegistry(store as unknown as GrantStore, metrics, config),
  };
}
