import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError } from '../../common/errors';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { RateLimiterService } from '../../legacy-session/rate-limiter.service';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** The form ADMIN_API_TOKEN is kept in for {@link bearerMatches}: its SHA-256. */
export const adminTokenDigest = (token: string): Buffer => sha256(token);

/**
 * Whether an Authorization header is `Bearer <the token>`, compared in constant time (both sides
 * hashed to the same length first). The admin API's door, and /readyz's details.
 */
export function bearerMatches(authorization: string | undefined, expectedDigest: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match !== null && timingSafeEqual(sha256(match[1]), expectedDigest);
}

/** Who called the admin API, for the audit trail: never the token itself. */
export interface AdminCaller {
  /** `admin-token:<first 12 hex of its SHA-256>`: tells rotated tokens apart. */
  fingerprint: string;
  ip?: string;
}

export const adminCallerOf = (req: Request): AdminCaller => (req as Request & { admin: AdminCaller }).admin;

/**
 * The admin API's door: off (404, as if absent) without ADMIN_API_TOKEN; then a rate limit per
 * client address (every call counts, so guessing the token is slow too); then
 * `Authorization: Bearer <ADMIN_API_TOKEN>`, compared in constant time (both sides hashed to
 * the same length first).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;
  private readonly fingerprint?: string;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limiter: RateLimiterService,
  ) {
    const token = config.access.adminApiToken;
    if (token) {
      this.expected = sha256(token);
      this.fingerprint = `admin-token:${this.expected.toString('hex').slice(0, 12)}`;
    }
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    if (!this.expected) throw new NotFoundException(`There is nothing at ${req.method} ${req.path}.`);
    res.setHeader('Cache-Control', 'no-store');
    const { count, retryAfterSeconds } = await this.limiter.hit(
      RateLimiterService.key('admin-api', this.limiter.addressKey(req.ip)),
      60,
    );
    if (count > this.config.access.adminRateLimitPerMinute) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      throw new DomainError(
        'rate_limited',
        `Too many admin API calls from this address; try again in ${retryAfterSeconds} s.`,
        429,
      );
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match || !bearerMatches(header, this.expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="connect-bridge admin"');
      throw new DomainError(
        'unauthorized',
        match
          ? 'The admin API token is wrong.'
          : 'The admin API needs "Authorization: Bearer <ADMIN_API_TOKEN>".',
        401,
      );
    }
    (req as Request & { admin: AdminCaller }).admin = { fingerprint: this.fingerprint!, ip: req.ip };
    return true;
  }
}
