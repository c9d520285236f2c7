import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { clientAddressKey } from '../common/client-address';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { LOGIN_RATE_LIMIT_DEFAULTS } from '../config/env.schema';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { PrismaService } from '../database/prisma.service';
import { DB_NOW } from '../database/sql';
import { RateGate } from './sign-in-capacity';

export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/**
 * Sign-in attempts: per client address (every attempt), per account and address (the hard
 * limit: cleared by the right password), per account from all addresses (the ceiling a browser
 * that signed in as the account before is exempt from), and per instance (in memory, a token
 * bucket: `limit` per `windowSeconds`); sign-ins started at the Login URI per client address
 * (each one writes a transaction row). A client address is an IPv4 address or an IPv6 prefix
 * (clientAddressKey).
 */
export interface LoginRateLimits {
  perIp: RateLimit;
  perAccount: RateLimit;
  perAccountAndIp: RateLimit;
  perInstance: RateLimit;
  loginStartPerIp: RateLimit;
}

/** The service's limits from the configured sign-in limits (LOGIN_RATE_LIMIT_*); the Login URI's stays fixed. */
export function loginRateLimits(configured: AppConfig['login']['rateLimit']): LoginRateLimits {
  return {
    perIp: { limit: configured.perIp, windowSeconds: configured.windowSeconds },
    perAccount: { limit: configured.perAccount, windowSeconds: configured.windowSeconds },
    perAccountAndIp: { limit: configured.perAccountAndIp, windowSeconds: configured.windowSeconds },
    perInstance: { limit: configured.perSecond, windowSeconds: 1 },
    loginStartPerIp: { limit: 120, windowSeconds: 10 * 60 },
  };
}

/** The limits with every LOGIN_RATE_LIMIT_* unset. */
export const DEFAULT_LOGIN_RATE_LIMITS: LoginRateLimits = loginRateLimits(LOGIN_RATE_LIMIT_DEFAULTS);

export interface RateLimitState {
  count: number;
  retryAfterSeconds: number;
}

/** One limit to count an event against: its counter's key, its limit and its window. */
export interface CountedLimit extends RateLimit {
  key: string;
}

/**
 * The statement that counts one event of `key` in its current window (a new window when the
 * last one ended), returning `count` and `retry_after` (the seconds left in the window), for
 * this service and for statements that count and write in one (a WITH query). `source` (a FROM
 * clause with its WHERE) makes the count conditional: nothing is counted when it yields no row.
 */
export function countStatement(key: string, windowSeconds: number, source = Prisma.empty): Prisma.Sql {
  return Prisma.sql`
      INSERT INTO rate_limit_counters (key, count, reset_at)
      SELECT ${key}::text, 1, ${DB_NOW} + ${windowSeconds}::int * interval '1 second' ${source}
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limit_counters.reset_at <= ${DB_NOW} THEN 1
                     ELSE rate_limit_counters.count + 1 END,
        reset_at = CASE WHEN rate_limit_counters.reset_at <= ${DB_NOW} THEN EXCLUDED.reset_at
                        ELSE rate_limit_counters.reset_at END
      RETURNING count, CEIL(EXTRACT(EPOCH FROM (reset_at - ${DB_NOW})) - 0.001)::int AS retry_after`;
}

/** The statement that takes back one event of `key`'s current window. */
const undoStatement = (key: string): Prisma.Sql => Prisma.sql`
      UPDATE rate_limit_counters SET count = count - 1
      WHERE key = ${key} AND count > 0 AND reset_at > ${DB_NOW}`;

/** A counter's state from what countStatement (or a read of a counter) returns. */
export const toState = (row: { count: number; retry_after: number }): RateLimitState => ({
  count: Number(row.count),
  retryAfterSeconds: Math.max(1, Number(row.retry_after)),
});

/**
 * Fixed-window counters in the database, so every instance sees the same counts. Keys are
 * hashed (an email or IP address never lands in the table). Times are UTC, like Prisma's.
 */
@Injectable()
export class RateLimiterService {
  /** From the config (LOGIN_RATE_LIMIT_*); replaceable in tests that need other limits mid-suite. */
  limits: LoginRateLimits;
  /** RATE_LIMIT_IPV6_PREFIX: how much of an IPv6 address names one client. */
  private readonly ipv6Prefix: number;
  private readonly instance = new RateGate();

  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaClient,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = loginRateLimits(config.login.rateLimit);
    this.ipv6Prefix = config.rateLimitIpv6Prefix;
  }

  static key(kind: string, value: string): string {
    return `${kind}:${createHash('sha256').update(value).digest('base64url')}`;
  }

  /**
   * What every per-address limit counts by (never `req.ip` itself): the IPv4 address, or the
   * IPv6 prefix, so that rotating through the addresses of one /64 does not mean a fresh limit.
   */
  addressKey(ip: string | undefined): string {
    return clientAddressKey(ip, this.ipv6Prefix);
  }

  /**
   * One sign-in attempt against this instance's ceiling (limits.perInstance, in memory, no
   * database work): null when there is room, else how long to wait.
   */
  takeInstanceSlot(): { retryAfterSeconds: number } | null {
    const { limit, windowSeconds } = this.limits.perInstance;
    return this.instance.take(limit, windowSeconds);
  }

  /** Counts one event and returns the count in the current window. */
  async hit(key: string, windowSeconds: number): Promise<RateLimitState> {
    const rows = await this.prisma.$queryRaw<Array<{ count: number; retry_after: number }>>(
      countStatement(key, windowSeconds),
    );
    return toState(rows[0]);
  }

  /**
   * Counts one event against each limit in turn, as hit() one after another would, in one
   * statement: a limit is counted only while every one before it is within its own. Returns the
   * states of the limits counted, in order; only the last one can be over its limit.
   */
  async hitInTurn(limits: readonly CountedLimit[]): Promise<RateLimitState[]> {
    if (limits.length === 0) return [];
    const name = (i: number) => Prisma.raw(`s${i}`);
    const steps = limits.map((l, i) => {
      const gate =
        i === 0
          ? Prisma.empty
          : Prisma.sql`FROM ${name(i - 1)} WHERE ${name(i - 1)}.count <= ${limits[i - 1].limit}::int`;
      return Prisma.sql`${name(i)} AS (${countStatement(l.key, l.windowSeconds, gate)})`;
    });
    const counted = limits.map(
      (_, i) => Prisma.sql`SELECT ${i}::int AS step, count, retry_after FROM ${name(i)}`,
    );
    const rows = await this.prisma.$queryRaw<Array<{ step: number; count: number; retry_after: number }>>`
      WITH ${Prisma.join(steps, ', ')}
      ${Prisma.join(counted, ' UNION ALL ')}`;
    return rows.sort((a, b) => Number(a.step) - Number(b.step)).map(toState);
  }

  /** The count in the current window without adding to it. */
  async peek(key: string): Promise<RateLimitState> {
    const rows = await this.prisma.$queryRaw<Array<{ count: number; retry_after: number }>>`
      SELECT count, CEIL(EXTRACT(EPOCH FROM (reset_at - ${DB_NOW})) - 0.001)::int AS retry_after
      FROM rate_limit_counters WHERE key = ${key} AND reset_at > ${DB_NOW}`;
    return rows.length ? toState(rows[0]) : { count: 0, retryAfterSeconds: 0 };
  }

  async reset(key: string): Promise<void> {
    await this.prisma.rateLimitCounter.deleteMany({ where: { key } });
  }

  /** Takes back one event of the current window (one counted before it turned out not to count). */
  async undo(key: string): Promise<void> {
    await this.prisma.$executeRaw(undoStatement(key));
  }

  /** reset(`resetKey`) and, when given, undo(`undoKey`), in one statement. */
  async resetAndUndo(resetKey: string, undoKey?: string): Promise<void> {
    if (undoKey === undefined) return this.reset(resetKey);
    await this.prisma.$executeRaw`
      WITH cleared AS (DELETE FROM rate_limit_counters WHERE key = ${resetKey})
      ${undoStatement(undoKey)}`;
  }

  /** Drops windows that ended (housekeeping). */
  async purgeExpired(now = new Date()): Promise<number> {
    return (await this.prisma.rateLimitCounter.deleteMany({ where: { resetAt: { lte: now } } })).count;
  }
}
