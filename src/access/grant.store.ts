import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { DB_NOW_TEXT } from '../database/sql';

/** The channel a revocation is announced on (PostgreSQL NOTIFY); the payload is the event's seq. */
export const REVOCATION_CHANNEL = 'connect_bridge_grant_revoked';

/** Who ended a grant (grants.revoked_by, access_audit.actor). */
export type RevocationActor = 'admin-api' | 'user' | 'cli' | 'legacy-recheck';

/** Why a grant first seen after a user-wide revocation was born revoked. */
export const BORN_REVOKED = 'revoked-user';

/** What the token of a first-seen grant says about it. */
export interface GrantKey {
  workosUserId: string;
  clientId: string;
  /** AuthKit's `sid`; '' when the token has none (then one grant per user and client). */
  sessionId: string;
}

export interface GrantFirstSight extends GrantKey {
  legacyUserId: string | null;
  scopes: readonly string[];
  /** The token's `iat`, in ms. */
  issuedAtMs: number;
}

export interface GrantRow {
  id: string;
  workosUserId: string;
  clientId: string;
  sessionId: string;
  legacyUserId: string | null;
  scopes: string;
  transactionId: string | null;
  createdAt: Date;
  lastUsedAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
  authkitSession: string | null;
}

export interface RevocationEvent {
  seq: bigint;
  /** `revoke`: grants ended; `identity`: the user's roles, tenants or status changed. */
  kind: string;
  grantId: string | null;
  legacyUserId: string | null;
  createdAt: Date;
}

/** Who asked for a revocation, for the audit trail. */
export interface RevocationRequest {
  actor: RevocationActor;
  /** The admin token's fingerprint, the signed-in legacy user id, the OS user… */
  actorDetail?: string;
  ip?: string;
}

/** How long after a token's `iat` the sign-in that led to it may have completed (clock skew). */
const COMPLETION_SKEW_MS = 60_000;
/** Revocations read again on each poll, for transactions that committed out of order. */
const REREAD_WINDOW = "interval '30 seconds'";

/**
 * The grants tables (grants, grant_cutoffs, grant_revocations, access_audit) and nothing else:
 * plain Prisma, so the server and the CLI share it. Every revocation is one transaction that
 * ends the grants, leaves a revocation event for every instance, writes the audit row and
 * notifies listeners.
 */
export class GrantStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * The grant of a token seen for the first time by this instance: found, or created. A grant
   * created for a user after a user-wide revocation starts revoked unless it comes from a
   * sign-in completed after that revocation (so tokens handed out before it, and tokens
   * refreshed from them, stay refused).
   */
  async findOrCreate(sight: GrantFirstSight): Promise<{ row: GrantRow; created: boolean }> {
    const key = {
      workosUserId: sight.workosUserId,
      clientId: sight.clientId,
      sessionId: sight.sessionId,
    };
    const legacyUserId = sight.legacyUserId;
    const [existing, cutoff, link, transaction] = await Promise.all([
      this.prisma.grant.findUnique({ where: { workosUserId_clientId_sessionId: key } }),
      legacyUserId ? this.prisma.grantCutoff.findUnique({ where: { legacyUserId } }) : null,
      legacyUserId
        ? this.prisma.userLink.findUnique({ where: { legacyUserId }, select: { lastLoginAt: true } })
        : null,
      legacyUserId
        ? this.prisma.loginTransaction.findFirst({
            where: {
              legacyUserId,
              status: 'completed',
              completedAt: { lte: new Date(sight.issuedAtMs + COMPLETION_SKEW_MS) },
            },
            orderBy: { completedAt: 'desc' },
            select: { id: true },
          })
        : null,
    ]);
    if (existing) return { row: existing, created: false };
    const now = new Date();
    let bornRevoked = false;
    if (cutoff) {
      const signedInSince = link?.lastLoginAt != null && link.lastLoginAt > cutoff.revokedBefore;
      // `iat` has whole seconds: a token of the very second of the revocation is judged by the sign-in.
      const cutoffSecond = Math.floor(cutoff.revokedBefore.getTime() / 1000) * 1000;
      bornRevoked = sight.issuedAtMs < cutoffSecond || !signedInSince;
    }
    try {
      const row = await this.prisma.grant.create({
        data: {
          id: `grant_${randomUUID().replace(/-/g, '')}`,
          ...key,
          legacyUserId,
          scopes: sight.scopes.join(' '),
          transactionId: transaction?.id ?? null,
          createdAt: now,
          lastUsedAt: now,
          ...(bornRevoked ? { revokedAt: now, revokedBy: BORN_REVOKED } : {}),
        },
      });
      return { row, created: true };
    } catch (err) {
      // Another instance recorded it first.
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const row = await this.prisma.grant.findUnique({ where: { workosUserId_clientId_sessionId: key } });
        if (row) return { row, created: false };
      }
      throw err;
    }
  }

  /** A user's grants, newest first; only active ones unless asked. */
  listForUser(legacyUserId: string, includeRevoked = false): Promise<GrantRow[]> {
    return this.prisma.grant.findMany({
      where: { legacyUserId, ...(includeRevoked ? {} : { revokedAt: null }) },
      orderBy: { createdAt: 'desc' },
      take: 500,
    });
  }

  findById(id: string): Promise<GrantRow | null> {
    return this.prisma.grant.findUnique({ where: { id } });
  }

  /**
   * Ends one grant. Resolves the ended grant, or null when there is no such active grant
   * (`legacyUserId`, when given, must own it: a person can end only their own).
   */
  async revokeGrant(id: string, request: RevocationRequest, legacyUserId?: string): Promise<GrantRow | null> {
    return this.prisma.$transaction(async (tx) => {
      const ended = await tx.grant.updateManyAndReturn({
        where: { id, revokedAt: null, ...(legacyUserId !== undefined ? { legacyUserId } : {}) },
        data: { revokedAt: new Date(), revokedBy: request.actor },
      });
      const row = ended[0];
      if (!row) return null;
      const event = await tx.grantRevocation.create({ data: { grantId: id }, select: { seq: true } });
      await tx.accessAudit.create({
        data: audit(request, 'revoke_grant', row.legacyUserId, id, 1),
      });
      await notify(tx, event.seq);
      return row;
    });
  }

  /**
   * Ends every grant of a legacy user, and every grant of theirs first seen later unless it
   * comes from a newer sign-in. Resolves how many grants ended.
   */
  async revokeUser(
    legacyUserId: string,
    request: RevocationRequest,
    action = 'revoke_user',
  ): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const now = new Date();
      const { count } = await tx.grant.updateMany({
        where: { legacyUserId, revokedAt: null },
        data: { revokedAt: now, revokedBy: request.actor },
      });
      await tx.grantCutoff.upsert({
        where: { legacyUserId },
        create: { legacyUserId, revokedBefore: now },
        update: { revokedBefore: now },
      });
      const event = await tx.grantRevocation.create({ data: { legacyUserId }, select: { seq: true } });
      await tx.accessAudit.create({ data: audit(request, action, legacyUserId, null, count) });
      await notify(tx, event.seq);
      return count;
    });
  }

  /** The newest revocation event's seq (0 when none): where a fresh instance starts reading. */
  async latestRevocationSeq(): Promise<bigint> {
    const last = await this.prisma.grantRevocation.findFirst({
      orderBy: { seq: 'desc' },
      select: { seq: true },
    });
    return last?.seq ?? 0n;
  }

  /** Revocations past `afterSeq`, and those of the last few seconds again. */
  revocationsSince(afterSeq: bigint): Promise<RevocationEvent[]> {
    return this.prisma.$queryRawUnsafe<RevocationEvent[]>(
      `SELECT seq, kind, grant_id AS "grantId", legacy_user_id AS "legacyUserId", created_at AS "createdAt"
         FROM grant_revocations
        WHERE seq > $1 OR created_at > ${DB_NOW_TEXT} - ${REREAD_WINDOW}
        ORDER BY seq`,
      afterSeq,
    );
  }

  /** Writes last-use times (ms) of many grants in one statement; never moves one backwards. */
  async recordLastUse(uses: ReadonlyArray<{ id: string; at: number }>): Promise<void> {
    if (uses.length === 0) return;
    const rows = uses.map((u) => Prisma.sql`(${u.id}, ${u.at}::float8)`);
    await this.prisma.$executeRaw`
      UPDATE grants AS g
         SET last_used_at = GREATEST(g.last_used_at, (to_timestamp(v.ms / 1000.0) AT TIME ZONE 'UTC')::timestamp(3))
        FROM (VALUES ${Prisma.join(rows)}) AS v(id, ms)
       WHERE g.id = v.id`;
  }

  /**
   * Claims revoked grants whose AuthKit session has not been ended yet (one instance each:
   * SKIP LOCKED), marking them `pending`.
   */
  claimSessionsToEnd(limit = 20): Promise<Array<{ id: string; workosUserId: string; sessionId: string }>> {
    return this.prisma.$queryRawUnsafe(
      `UPDATE grants SET authkit_session = 'pending'
        WHERE id IN (SELECT id FROM grants
                      WHERE revoked_at IS NOT NULL AND authkit_session IS NULL
                      ORDER BY revoked_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, workos_user_id AS "workosUserId", session_id AS "sessionId"`,
      limit,
    );
  }

  async recordSessionOutcome(id: string, outcome: string): Promise<void> {
    await this.prisma.grant.update({ where: { id }, data: { authkitSession: outcome } });
  }

  /** Writes one access_audit row (a revocation attempt that ended nothing, a listing…). */
  async audit(
    request: RevocationRequest,
    action: string,
    legacyUserId: string | null,
    grantId: string | null,
    count: number,
  ): Promise<void> {
    await this.prisma.accessAudit.create({ data: audit(request, action, legacyUserId, grantId, count) });
  }
}

function audit(
  request: RevocationRequest,
  action: string,
  legacyUserId: string | null,
  grantId: string | null,
  count: number,
) {
  return {
    id: randomUUID(),
    actor: request.actor,
    actorDetail: request.actorDetail?.slice(0, 255) ?? null,
    action,
    legacyUserId: legacyUserId?.slice(0, 255) ?? null,
    grantId,
    count,
    ip: request.ip?.slice(0, 64) ?? null,
  };
}

/** Announces news row `seq` to every listening instance (delivered at commit). */
export async function notify(tx: Prisma.TransactionClient, seq: bigint): Promise<void> {
  // Delivered at commit; PGlite accepts it too (with no listener elsewhere to hear it).
  await tx.$executeRawUnsafe(`SELECT pg_notify('${REVOCATION_CHANNEL}', $1)`, String(seq));
}
