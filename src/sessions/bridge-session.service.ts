import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';

export interface BridgeSessionData {
  /** The local user signed in. */
  userId: string;
}

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

  async destroy(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return;
    await this.prisma.httpSession.deleteMany({ where: { idHash: hashToken(token) } });
  }

  async purgeExpired(now = new Date()): Promise<number> {
    return (await this.prisma.httpSession.deleteMany({ where: { expiresAt: { lte: now } } })).count;
  }
}
