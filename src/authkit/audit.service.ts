import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import { writeOrRetry } from '../database/write-retry';

export interface AuditEntry {
  outcome: 'success' | 'failure';
  /** Stable code of the outcome: `completed` on success, the failure's code otherwise. */
  code: string;
  strategy: string;
  transactionId?: string;
  /** Only a hint of it is stored (see externalAuthIdHint). */
  externalAuthId?: string;
  legacyUserId?: string;
  email?: string;
  workosUserId?: string;
  ip?: string;
  userAgent?: string;
}

/**
 * A recognisable but useless fragment of an external_auth_id for audit rows and logs: the
 * first and last four characters of a long id, the last two of a short one.
 */
export function externalAuthIdHint(id: string | undefined): string | undefined {
  if (!id) return undefined;
  return id.length >= 16 ? `${id.slice(0, 4)}…${id.slice(-4)}` : `…${id.slice(-2)}`;
}

/**
 * Text from outside (a typed email, a user agent) as stored: control characters replaced (NUL
 * cannot be stored in PostgreSQL text at all, and would cost the row), cut to `max`.
 */
const text = (value: string | undefined, max: number): string | null =>
  value === undefined ? null : value.replace(/\p{Cc}/gu, '\ufffd').slice(0, max);

/** The append-only record of every authorization attempt (table authorization_audit). */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  /**
   * Writes one row. Never breaks the person's flow: while the database is unreachable the row is
   * written in the background when it is back (with the time of the event); other failures are logged.
   */
  async record(entry: AuditEntry): Promise<void> {
    const data = {
      id: randomUUID(),
      transactionId: entry.transactionId ?? null,
      externalAuthIdHint: externalAuthIdHint(entry.externalAuthId) ?? null,
      legacyUserId: text(entry.legacyUserId, 255),
      email: text(entry.email, 320),
      workosUserId: text(entry.workosUserId, 255),
      strategy: entry.strategy,
      outcome: entry.outcome,
      errorCode: entry.outcome === 'failure' ? entry.code : null,
      ip: text(entry.ip, 64),
      userAgent: text(entry.userAgent, 512),
      createdAt: new Date(),
    };
    await writeOrRetry(
      () => this.prisma.authorizationAudit.create({ data }),
      `audit row (${entry.code})`,
      this.logger,
    );
  }
}
