import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { LoginTransaction, PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** What is kept of an external_auth_id once its flow has ended: enough to refuse a replay. */
export const externalAuthIdHash = (externalAuthId: string): string => sha256(externalAuthId).toString('hex');

/**
 * How log lines name a transaction: a short hash of its id. The id itself resumes the flow
 * (`/auth/login/resume?tx=…`, the cookie's name), so it is never logged; audit rows keep it.
 */
export const transactionRef = (id: string): string => sha256(`tx|${id}`).toString('hex').slice(0, 12);

/** Longer than any completion call (AUTHKIT_COMPLETE_TIMEOUT_MS is at most 60 s). */
const IN_FLIGHT_MS = 2 * 60_000;

/** A transaction's row once its flow has ended: the external_auth_id goes, its hash stays. */
const ENDED = { externalAuthId: null } as const;

/** Transaction ids: 128 random bits, URL- and cookie-name-safe. */
export const TRANSACTION_ID = /^[A-Za-z0-9_-]{22}$/;

export type TransactionState =
  | { kind: 'pending'; tx: LoginTransaction }
  | { kind: 'expired' | 'completed' | 'failed'; tx: LoginTransaction };

/**
 * Login transactions in the database: one pass of a browser through the Login URI. The
 * external_auth_id stays here, server-side, while the flow is open; once it has ended (completed,
 * failed, expired) only its SHA-256 is kept. The browser holds a random binding secret in a
 * signed cookie and the row holds only its SHA-256. Every instance can resume any transaction.
 */
@Injectable()
export class LoginTransactionService {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaClient) {}

  async create(input: {
    externalAuthId: string;
    strategy: string;
    ttlSeconds: number;
  }): Promise<{ tx: LoginTransaction; bindingSecret: string }> {
    const bindingSecret = randomBytes(32).toString('base64url');
    const tx = await this.prisma.loginTransaction.create({
      data: {
        id: randomBytes(16).toString('base64url'),
        externalAuthId: input.externalAuthId,
        externalAuthIdHash: externalAuthIdHash(input.externalAuthId),
        browserBinding: sha256(bindingSecret).toString('hex'),
        strategy: input.strategy,
        expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
      },
    });
    return { tx, bindingSecret };
  }

  /** True once any transaction for this external_auth_id completed (replays stop here), by its hash. */
  async wasCompleted(externalAuthId: string): Promise<boolean> {
    const row = await this.prisma.loginTransaction.findFirst({
      where: { externalAuthIdHash: externalAuthIdHash(externalAuthId), status: 'completed' },
      select: { id: true },
    });
    return row !== null;
  }

  /** The transaction, only when the browser proves it holds the binding secret. */
  async findBound(id: unknown, bindingSecret: unknown): Promise<LoginTransaction | null> {
    if (typeof id !== 'string' || !TRANSACTION_ID.test(id) || typeof bindingSecret !== 'string') return null;
    const tx = await this.prisma.loginTransaction.findUnique({ where: { id } });
    if (!tx) return null;
    const expected = Buffer.from(tx.browserBinding, 'hex');
    const actual = sha256(bindingSecret);
    return expected.length === actual.length && timingSafeEqual(expected, actual) ? tx : null;
  }

  /** Where the transaction stands; a pending one past its lifetime is marked expired. */
  async state(tx: LoginTransaction, now = new Date()): Promise<TransactionState> {
    if (tx.status === 'pending' && tx.expiresAt <= now) {
      await this.prisma.loginTransaction.updateMany({
        where: { id: tx.id, status: 'pending' },
        data: { status: 'expired', errorCode: 'login_transaction_expired', ...ENDED },
      });
      return { kind: 'expired', tx };
    }
    return { kind: tx.status, tx } as TransactionState;
  }

  update(
    id: string,
    data: Partial<Pick<LoginTransaction, 'legacyUserId' | 'declinedUserId' | 'loginRedirectAt'>> & {
      legacyRedirects?: { increment: number };
    },
  ): Promise<LoginTransaction> {
    return this.prisma.loginTransaction.update({ where: { id }, data });
  }

  /**
   * Claims the transaction for one completion call, atomically: only a pending, unexpired
   * transaction with no call in flight (or one abandoned before `staleBefore`, by a crashed
   * instance) can be claimed. Two requests, on one instance or two, never both win.
   */
  async claim(id: string, legacyUserId: string, staleBefore: Date, now = new Date()): Promise<boolean> {
    const { count } = await this.prisma.loginTransaction.updateMany({
      where: {
        id,
        status: 'pending',
        expiresAt: { gt: now },
        OR: [{ completingAt: null }, { completingAt: { lt: staleBefore } }],
      },
      data: { completingAt: now, legacyUserId },
    });
    return count === 1;
  }

  async markCompleted(id: string, now = new Date()): Promise<void> {
    await this.prisma.loginTransaction.update({
      where: { id },
      data: { status: 'completed', completedAt: now, completingAt: null, errorCode: null, ...ENDED },
    });
  }

  async markFailed(id: string, errorCode: string): Promise<void> {
    await this.prisma.loginTransaction.update({
      where: { id },
      data: { status: 'failed', completingAt: null, errorCode, ...ENDED },
    });
  }

  /**
   * Ends a pending transaction the person cancelled, unless a completion call is in flight (a
   * claim newer than `staleBefore`): then it is not theirs to cancel any more. Atomic like claim.
   */
  async cancel(id: string, staleBefore: Date): Promise<boolean> {
    const { count } = await this.prisma.loginTransaction.updateMany({
      where: {
        id,
        status: 'pending',
        OR: [{ completingAt: null }, { completingAt: { lt: staleBefore } }],
      },
      data: { status: 'failed', completingAt: null, errorCode: 'connect_cancelled', ...ENDED },
    });
    return count === 1;
  }

  /** Gives the claim back after a call whose outcome is unknown: the person may retry. */
  async release(id: string, errorCode: string): Promise<void> {
    await this.prisma.loginTransaction.update({ where: { id }, data: { completingAt: null, errorCode } });
  }

  async reload(id: string): Promise<LoginTransaction | null> {
    return this.prisma.loginTransaction.findUnique({ where: { id } });
  }

  /**
   * Housekeeping: pending transactions past their lifetime that nobody came back to are marked
   * expired (and lose their external_auth_id, like every ended flow). Answers how many.
   */
  async expireAbandoned(now = new Date()): Promise<number> {
    const { count } = await this.prisma.loginTransaction.updateMany({
      where: {
        status: 'pending',
        expiresAt: { lte: now },
        // not while a completion call may still be in flight (its record is written when it ends)
        OR: [{ completingAt: null }, { completingAt: { lt: new Date(now.getTime() - IN_FLIGHT_MS) } }],
      },
      data: { status: 'expired', errorCode: 'login_transaction_expired', ...ENDED },
    });
    return count;
  }

  /** Housekeeping: transactions older than `before` are of no further use. */
  async purgeOlderThan(before: Date): Promise<number> {
    return (await this.prisma.loginTransaction.deleteMany({ where: { expiresAt: { lt: before } } })).count;
  }
}
