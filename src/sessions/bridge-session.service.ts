import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { LocalUser, PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';

export interface BridgeSessionData {
  /** The local user signed in. */
  userId: string;
}

/** What a session lookup reads of its local user (never the password hash). */
export type SessionUser = Pick<
  LocalUser,
  'id' | 'email' | 'firstName' | 'lastName' | 'disabled' | 'roles' | 'tenants'
>;

/** The signed cookie holding the bridge session token (path /auth). */
export const BRIDGE_SESSION_COOKIE = 'cbridge_session';

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * The bridge's own sign-in sessions (the `local` strategy), in the database so that any
 * instance can read them. The browser holds a random token; the table holds only its hash.
 */
@Injectable()
export class BridgeSessionService {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  /** A new session; the caller puts the token in a cookie. */
  async create(data: BridgeSessionData, maxAgeSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + maxAgeSeconds * 1000);
    await this.prisma.httpSession.create({
      data: { idHash: hashToken(token), data: { ...data }, expiresAt },
    });
    return { token, expiresAt };
  }

  async resolve(token: string | undefined): Promise<BridgeSessionData | null> {
    if (!token || !TOKEN.test(token)) return null;
    const row = await this.prisma.httpSession.findUnique({ where: { idHash: hashToken(token) } });
    if (!row || row.expiresAt <= new Date()) return null;
    const data = row.data as Partial<BridgeSessionData> | null;
    return typeof data?.userId === 'string' ? { userId: data.userId } : null;
  }

  /**
   * The local user a live session belongs to (enabled or not: the caller decides), or null; the
   * session and its user are read in one statement.
   */
  async localUser(token: string | undefined): Promise<SessionUser | null> {
    if (!token || !TOKEN.test(token)) return null;
    const rows = await this.prisma.$queryRaw<SessionUser[]>`
      SELECT u.id, u.email, u.first_name AS "firstName", u.last_name AS "lastName", u.disabled, u.roles, u.tenants
        FROM http_sessions s JOIN local_users u ON u.id = s.data->>'userId'
       WHERE s.id_hash = ${hashToken(token)} AND s.expires_at > ${new Date()}::timestamp(3)
         AND jsonb_typeof(s.data->'userId') = 'string'`;
    return rows[0] ?? null;
  }

  async destroy(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return;
    await this.prisma.httpSession.deleteMany({ where: { idHash: hashToken(token) } });
  }

  async purgeExpired(now = new Date()): Promise<number> {
    return (await this.prisma.httpSession.deleteMany({ where: { expiresAt: { lte: now } } })).count;
  }
}
