import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';

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

/** The append-only record of every authorization attempt (table authorization_audit). */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  /** Writes one row. A failure to write is logged, never allowed to break the person's flow. */
  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.prisma.authorizationAudit.create({
        data: {
          id: randomUUID(),
          transactionId: entry.transactionId ?? null,
          externalAuthIdHint: externalAuthIdHint(entry.externalAuthId) ?? null,
          legacyUserId: entry.legacyUserId?.slice(0, 255) ?? null,
          email: entry.email?.slice(0, 320) ?? null,
          workosUserId: entry.workosUserId ?? null,
          strategy: entry.strategy,
          outcome: entry.outcome,
          errorCode: entry.outcome === 'failure' ? entry.code : null,
          ip: entry.ip?.slice(0, 64) ?? null,
          userAgent: entry.userAgent?.slice(0, 512) ?? null,
        },
      });
    } catch (err) {
      this.logger.error({ err, code: entry.code }, 'could not write the audit row');
    }
  }
}
