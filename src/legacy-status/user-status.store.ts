import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { notify } from '../access/grant.store';
import { rolesFrom, tenantsFrom, type LegacyTenant } from '../legacy-session/legacy-user';

/** What the legacy app says about a user now (LEGACY_USER_URL, or the local user table). */
export interface LegacyAnswer {
  active: boolean;
  roles: string[];
  tenants: LegacyTenant[];
}

export interface RecordOutcome {
  /** Roles, tenants or status differ from what was known: every instance was told. */
  changed: boolean;
  /** Known active before, inactive now: the caller ends the user's grants. */
  deactivated: boolean;
}

/** Claims on a recheck older than this are taken over (the instance that held it died). */
const CLAIM_SECONDS = 30;
const NOW = `(now() AT TIME ZONE 'UTC')::timestamp(3)`;

/**
 * The legacy app's view of each linked user (user_links: roles, tenants, active, checked_at) and
 * the news of a change for every instance (a grant_revocations row of kind `identity`, with
 * NOTIFY). Plain Prisma, so the server and the CLI share it.
 */
export class UserStatusStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Takes the recheck of one user when it is due (checked longer than `recheckSeconds` ago and
   * nobody else is asking right now; a claim whose instance failed or died ages out after 30 s,
   * which also spaces retries while the legacy app does not answer). Resolves whether this caller took it, and when the user was
   * last checked (null: never, or no such link).
   */
  async claim(
    legacyUserId: string,
    recheckSeconds: number,
  ): Promise<{ claimed: boolean; checkedAt: Date | null }> {
    const rows = await this.prisma.$queryRawUnsafe<Array<{ claimed: boolean; checked_at: Date | null }>>(
      `WITH claimed AS (
         UPDATE user_links SET check_claimed_at = ${NOW}
          WHERE legacy_user_id = $1
            AND (checked_at IS NULL OR checked_at < ${NOW} - $2::int * interval '1 second')
            AND (check_claimed_at IS NULL OR check_claimed_at < ${NOW} - interval '${CLAIM_SECONDS} seconds')
          RETURNING legacy_user_id)
       SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
              (SELECT checked_at FROM user_links WHERE legacy_user_id = $1) AS checked_at`,
      legacyUserId,
      recheckSeconds,
    );
    return { claimed: Boolean(rows[0]?.claimed), checkedAt: rows[0]?.checked_at ?? null };
  }

  /**
   * Records what the legacy app said now (the newest answer wins) and, when it changed anything
   * tools or the bridge see, tells every instance.
   */
  async record(legacyUserId: string, answer: LegacyAnswer): Promise<RecordOutcome> {
    return this.prisma.$transaction(async (tx) => {
      const before = await tx.userLink.findUnique({
        where: { legacyUserId },
        select: { roles: true, tenants: true, active: true },
      });
      if (!before) return { changed: false, deactivated: false };
      const roles = rolesFrom(answer.roles);
      const tenants = tenantsFrom(answer.tenants);
      await tx.userLink.update({
        where: { legacyUserId },
        data: {
          roles,
          tenants: tenants as unknown as Prisma.InputJsonValue,
          active: answer.active,
          checkedAt: new Date(),
          checkClaimedAt: null,
        },
      });
      const changed =
        before.active !== answer.active ||
        JSON.stringify(rolesFrom(before.roles)) !== JSON.stringify(roles) ||
        JSON.stringify(tenantsFrom(before.tenants)) !== JSON.stringify(tenants);
      if (changed) {
        const event = await tx.grantRevocation.create({
          data: { kind: 'identity', legacyUserId },
          select: { seq: true },
        });
        await notify(tx, event.seq);
      }
      return { changed, deactivated: before.active && !answer.active };
    });
  }
}
