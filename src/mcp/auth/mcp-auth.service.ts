import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { McpCaller } from '../caller';
import { Clock } from '../clock';
import { IdentityService } from '../identity/identity.service';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { AccessTokenVerifier } from './access-token-verifier';
import { TokenRejectedError } from './token-errors';

interface CachedCaller {
  caller: McpCaller;
  /** Milliseconds since the epoch; never past the token's `exp`. */
  validUntil: number;
}

const BEARER = /^bearer$/i;

/**
 * Turns an Authorization header into the caller, or refuses it. The hot path: a token seen
 * before is answered from a small in-memory map keyed by the SHA-256 of the token (the token
 * itself is not kept) until its `exp`, with no signature check, database or network call.
 */
@Injectable()
export class McpAuthService {
  static readonly MAX_CACHED_TOKENS = 10_000;
  /** Even a long-lived token is re-verified at least this often. */
  static readonly MAX_CACHE_MS = 5 * 60_000;

  private readonly cache = new Map<string, CachedCaller>();

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly verifier: AccessTokenVerifier,
    private readonly identities: IdentityService,
    private readonly clock: Clock,
  ) {}

  /**
   * Resolves the caller, or rejects with TokenRejectedError (a 401) or KeySetUnavailableError
   * (a 503: AuthKit's keys could never be fetched).
   */
  async authenticate(authorization: string | undefined): Promise<McpCaller> {
    const token = bearerToken(authorization, this.settings.maxTokenLength);
    const key = hash('sha256', token, 'base64');
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.validUntil > now) return hit.caller;
      this.cache.delete(key);
    }
    const verified = await this.verifier.verify(token);
    const { identity, definitive } = await this.identities.resolve(verified.sub);
    const claimEmail = typeof verified.claims.email === 'string' ? verified.claims.email : null;
    const caller: McpCaller = Object.freeze({
      sub: verified.sub,
      legacyUserId: identity.legacyUserId,
      email: identity.email ?? claimEmail,
      firstName: identity.firstName,
      lastName: identity.lastName,
      clientId: verified.clientId,
      orgId: verified.orgId,
      scopes: Object.freeze(verified.scopes),
      expiresAt: verified.expiresAt,
      claims: Object.freeze(verified.claims),
    });
    // A caller built while WorkOS or the database was unreachable is used once, not remembered.
    if (definitive)
      this.remember(key, caller, Math.min(verified.expiresAt * 1000, now + McpAuthService.MAX_CACHE_MS));
    return caller;
  }

  /** Forgets every verified token (e.g. after a key compromise). */
  clear(): void {
    this.cache.clear();
  }

  private remember(key: string, caller: McpCaller, validUntil: number): void {
    if (validUntil <= this.clock.now()) return;
    if (this.cache.size >= McpAuthService.MAX_CACHED_TOKENS) {
      // Oldest first; expired entries are mostly the oldest ones.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { caller, validUntil });
  }
}

/** The token of an `Authorization: Bearer <token>` header; rejects anything else. */
export function bearerToken(authorization: string | undefined, maxLength: number): string {
  if (authorization === undefined || authorization === '') throw new TokenRejectedError('missing');
  if (authorization.length > maxLength + 7) throw new TokenRejectedError('too_large');
  const space = authorization.indexOf(' ');
  if (space < 0 || !BEARER.test(authorization.slice(0, space))) throw new TokenRejectedError('not_bearer');
  const token = authorization.slice(space + 1).trim();
  if (token === '') throw new TokenRejectedError('malformed');
  return token;
}
