import { Injectable } from '@nestjs/common';
import { AccessMetrics } from './access-metrics';
import { ClientNameResolver } from './client-names.service';
import { GrantRegistry } from './grant-registry.service';
import { GrantStore, type GrantRow, type RevocationRequest } from './grant.store';
import { RevocationFeed } from './revocation-feed.service';

/** A grant as the admin API and the person's page show it. */
export interface GrantView {
  id: string;
  clientId: string;
  /** A name a person recognises (a CIMD client's `client_name`), or null. */
  clientName: string | null;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
  /** What became of the AuthKit session (`revoked`, `not_found`, `failed`, `skipped`, `pending`), once ended. */
  authkitSession: string | null;
}

/**
 * Seeing and ending grants: what the admin API, the person's page and the other parts of the
 * bridge call. Ending a grant writes it to the database (with the audit row and the news for
 * every instance), applies it to this instance at once, and starts ending the AuthKit session.
 */
@Injectable()
export class GrantsService {
  constructor(
    private readonly store: GrantStore,
    private readonly registry: GrantRegistry,
    private readonly feed: RevocationFeed,
    private readonly names: ClientNameResolver,
    private readonly metrics: AccessMetrics,
  ) {}

  async list(legacyUserId: string, includeRevoked = false): Promise<GrantView[]> {
    const rows = await this.store.listForUser(legacyUserId, includeRevoked);
    const names = await this.names.namesOf(rows.map((r) => r.clientId));
    return rows.map((row) => this.view(row, names.get(row.clientId) ?? null));
  }

  /** Ends one grant; `owner` limits it to that legacy user's grants. False when there was none to end. */
  async revoke(id: string, request: RevocationRequest, owner?: string): Promise<boolean> {
    const row = await this.store.revokeGrant(id, request, owner);
    if (!row) return false;
    this.ended([row], request.actor, 1);
    return true;
  }

  /** Ends every grant of a legacy user (and those of theirs not yet seen). Resolves how many ended. */
  async revokeUser(legacyUserId: string, request: RevocationRequest): Promise<number> {
    const count = await this.store.revokeUser(legacyUserId, request);
    this.ended([], request.actor, count);
    return count;
  }

  private ended(rows: readonly GrantRow[], by: string, count: number): void {
    this.registry.applyRows(rows);
    this.metrics.grantsRevoked(by, count);
    // This instance learns of user-wide revocations from the feed too: read it now, not in a second.
    void this.feed.poll();
    void this.feed.sweepSessions();
  }

  private view(row: GrantRow, clientName: string | null): GrantView {
    const recent = this.registry.lastUsed(row.id);
    const lastUsedAt =
      recent !== undefined && recent > row.lastUsedAt.getTime() ? new Date(recent) : row.lastUsedAt;
    return {
      id: row.id,
      clientId: row.clientId,
      clientName,
      scopes: row.scopes.split(' ').filter(Boolean),
      createdAt: row.createdAt,
      lastUsedAt,
      revokedAt: row.revokedAt,
      revokedBy: row.revokedBy,
      authkitSession: row.authkitSession,
    };
  }
}
