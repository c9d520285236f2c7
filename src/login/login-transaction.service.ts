import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type LoginTransaction, type PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import {
  countStatement,
  toState,
  type CountedLimit,
  type RateLimitState,
} from '../legacy-session/rate-limiter.service';

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

/**
 * Every column of login_transactions and the Prisma field it is read as, for statements Prisma
 * cannot write. Keyed by the model's fields: a field added to the model and not here fails to
 * compile.
 */
const TRANSACTION_COLUMN: Record<Prisma.LoginTransactionScalarFieldEnum, string> = {
  id: 'id',
  externalAuthId: 'external_auth_id',
  externalAuthIdHash: 'external_auth_id_hash',
  browserBinding: 'browser_binding',
  status: 'status::text',
  strategy: 'strategy',
  legacyUserId: 'legacy_user_id',
  errorCode: 'error_code',
  completingAt: 'completing_at',
  loginRedirectAt: 'login_redirect_at',
  legacyRedirects: 'legacy_redirects',
  declinedUserId: 'declined_user_id',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  expiresAt: 'expires_at',
  completedAt: 'completed_at',
};
const TRANSACTION_COLUMNS = Prisma.raw(
  Object.entries(TRANSACTION_COLUMN)
    .map(([field, column]) => `${column} AS "${field}"`)
    .join(', '),
);

type Nullable<T> = { [K in keyof T]: T[K] | null };

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

  /**
   * A visit of the Login URI: counted against its rate limit (`counted`) and, within it, a new
   * transaction, unless one for the same external_auth_id has completed already (a replay,
   * recognised by the hash). `created` is null over the limit (`limit` says so; nothing else is
   * written) and for a replay. `loginRedirectAt`: the browser is shown the sign-in form at once
   * (see nextStep). One statement: the count, the check and the insert.
   */
  async create(input: {
    externalAuthId: string;
    strategy: string;
    ttlSeconds: number;
    loginRedirectAt?: Date;
    counted: CountedLimit;
  }): Promise<{ created: { tx: LoginTransaction; bindingSecret: string } | null; limit: RateLimitState }> {
    const bindingSecret = randomBytes(32).toString('base64url');
    const hash = externalAuthIdHash(input.externalAuthId);
    const now = new Date();
    const { counted } = input;
    // One row: the count, and the new transaction's columns (all null when none was written).
    const [row] = await this.prisma.$queryRaw<
      Array<{ count: number; retry_after: number } & Nullable<LoginTransaction>>
    >`
      WITH counted AS (${countStatement(counted.key, counted.windowSeconds)}),
      created AS (
        INSERT INTO login_transactions (id, external_auth_id, external_auth_id_hash, browser_binding, strategy,
                                        login_redirect_at, created_at, updated_at, expires_at)
        SELECT ${randomBytes(16).toString('base64url')}::text, ${input.externalAuthId}::text, ${hash}::text,
               ${sha256(bindingSecret).toString('hex')}::text, ${input.strategy}::text,
               ${input.loginRedirectAt ?? null}::timestamp(3), ${now}::timestamp(3), ${now}::timestamp(3),
               ${new Date(now.getTime() + input.ttlSeconds * 1000)}::timestamp(3)
          FROM counted
         WHERE counted.count <= ${counted.limit}::int
           AND NOT EXISTS (SELECT 1 FROM login_transactions
                            WHERE external_auth_id_hash = ${hash} AND status = 'completed')
        RETURNING ${TRANSACTION_COLUMNS})
      SELECT counted.count, counted.retry_after, created.* FROM counted LEFT JOIN created ON true`;
    const { count, retry_after, ...tx } = row;
    return {
      created: tx.id === null ? null : { tx: tx as LoginTransaction, bindingSecret },
      limit: toState({ count, retry_after }),
    };
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
