import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { REVOCATION_CHANNEL } from '../access/grant.store';
import { DB_NOW, DB_NOW_TEXT } from '../database/sql';
import { rolesFrom, tenantsFrom, type LegacyTenant, type LegacyUser } from '../legacy-session/legacy-user';

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

/** The link as it was before the statement (every part of one statement sees the same snapshot). */
const beforeOf = (legacyUserId: string) =>
  Prisma.sql`SELECT roles, tenants, active FROM user_links WHERE legacy_user_id = ${legacyUserId}`;

/**
 * The change rule, the one place it is written: the tail of a statement whose `before` is the
 * link before it (beforeOf) and that writes the new roles, tenants and status. When the user was
 * known and any of the three differs, a grant_revocations row of kind `identity` is added and
 * announced (NOTIFY on the revocation channel, delivered at commit): every instance rebuilds that
 * user's callers. Selects, for a known user, whether it was active and whether it changed.
 */
function identityNews(legacyUserId: string, roles: string[], tenants: string, active: boolean): Prisma.Sql {
  return Prisma.sql`news AS (
        INSERT INTO grant_revocations (kind, legacy_user_id, created_at)
        SELECT 'identity', ${legacyUserId}::text, ${DB_NOW} FROM before
         WHERE before.active IS DISTINCT FROM ${active}
            OR before.roles IS DISTINCT FROM ${roles}::text[]
            OR before.tenants IS DISTINCT FROM ${tenants}::jsonb
        RETURNING seq
      )
      SELECT before.active AS was_active, news.seq IS NOT NULL AS changed,
             CASE WHEN news.seq IS NOT NULL THEN pg_notify(${REVOCATION_CHANNEL}, news.seq::text)::text END AS notified
        FROM before LEFT JOIN news ON true`;
}

/** Claims on a recheck older than this are taken over (the instance that held it died). */
const CLAIM_SECONDS = 30;

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
         UPDATE user_links SET check_claimed_at = ${DB_NOW_TEXT}
          WHERE legacy_user_id = $1
            AND (checked_at IS NULL OR checked_at < ${DB_NOW_TEXT} - $2::int * interval '1 second')
            AND (check_claimed_at IS NULL OR check_claimed_at < ${DB_NOW_TEXT} - interval '${CLAIM_SECONDS} seconds')
          RETURNING legacy_user_id)
       SELECT EXISTS (SELECT 1 FROM claimed) AS claimed,
              (SELECT checked_at FROM user_links WHERE legacy_user_id = $1) AS checked_at`,
      legacyUserId,
      recheckSeconds,
    );
    return { claimed: Boolean(rows[0]?.claimed), checkedAt: rows[0]?.checked_at ?? null };
  }

  /**
   * Records what the legacy app said now (the newest answer wins) about a linked user and, when it
   * changed anything tools or the bridge see, tells every instance. One statement (identityNews).
   */
  async record(legacyUserId: string, answer: LegacyAnswer): Promise<RecordOutcome> {
    const roles = rolesFrom(answer.roles);
    const tenants = JSON.stringify(tenantsFrom(answer.tenants));
    const rows = await this.prisma.$queryRaw<Array<{ was_active: boolean; changed: boolean }>>`
      WITH before AS (${beforeOf(legacyUserId)}),
      link AS (
        UPDATE user_links SET roles = ${roles}::text[], tenants = ${tenants}::jsonb, active = ${answer.active},
               checked_at = ${DB_NOW}, check_claimed_at = NULL, updated_at = ${DB_NOW}
         WHERE legacy_user_id = ${legacyUserId}
      ),
      ${identityNews(legacyUserId, roles, tenants, answer.active)}`;
    const row = rows[0];
    if (!row) return { changed: false, deactivated: false };
    return { changed: row.changed, deactivated: row.was_active && !answer.active };
  }

  /**
   * A completed sign-in: the user link made or brought up to date with what the legacy app said
   * (names, roles, tenants; active; checked now, a recheck claim let go) and, for a known user
   * whose roles, tenants or status differ, the news to every instance, as after a recheck. One
   * statement (identityNews).
   */
  async recordSignIn(user: LegacyUser, at: Date): Promise<void> {
    const roles = rolesFrom(user.roles ?? []);
    const tenants = JSON.stringify(tenantsFrom(user.tenants ?? []));
    await this.prisma.$queryRaw`
      WITH before AS (${beforeOf(user.id)}),
      link AS (
        INSERT INTO user_links (legacy_user_id, email, first_name, last_name, roles, tenants, active,
                                checked_at, last_login_at, created_at, updated_at)
        VALUES (${user.id}, ${user.email}, ${user.firstName ?? null}::text, ${user.lastName ?? null}::text,
                ${roles}::text[], ${tenants}::jsonb, true, ${at}::timestamp(3), ${at}::timestamp(3),
                ${at}::timestamp(3), ${at}::timestamp(3))
        ON CONFLICT (legacy_user_id) DO UPDATE SET
          email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
          roles = EXCLUDED.roles, tenants = EXCLUDED.tenants, active = true,
          checked_at = EXCLUDED.checked_at, last_login_at = EXCLUDED.last_login_at,
          check_claimed_at = NULL, updated_at = EXCLUDED.updated_at
      ),
      ${identityNews(user.id, roles, tenants, true)}`;
  }
}
