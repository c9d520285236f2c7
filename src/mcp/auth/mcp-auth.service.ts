import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  GrantRegistry,
  GrantRevokedError,
  GrantsUnavailableError,
  type GrantState,
} from '../../access/grant-registry.service';
import { AccessMetrics } from '../../access/access-metrics';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import type { LegacyTenant } from '../../legacy-session/legacy-user';
import { UserRecheckService } from '../../legacy-status/user-recheck.service';
import type { McpCaller } from '../caller';
import { Clock } from '../clock';
import { IdentityService } from '../identity/identity.service';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { AccessTokenVerifier } from './access-token-verifier';
import { TokenRejectedError } from './token-errors';

interface CachedCaller {
  caller: McpCaller;
  /** Shared with the GrantRegistry: a revocation flips it, and the next hit sees it. */
  grant: GrantState;
  /** The grant's identityVersion this caller was built under (roles and tenant as they were). */
  version: number;
  /** Milliseconds since the epoch; never past the token's `exp`. */
  validUntil: number;
}

const BEARER = /^bearer$/i;

/**
 * Turns an Authorization header into the caller, or refuses it. The hot path: a token seen
 * before is answered from a small in-memory map keyed by the SHA-256 of the token (the token
 * itself is not kept) until its `exp`, with no signature check, database or network call; the
 * entry holds its grant's in-memory state, so a revocation applies to the very next call.
 * A new token (a refresh) is verified, then its user and grant are found in memory (or, the
 * first time this instance sees them, in the database).
 */
@Injectable()
export class McpAuthService {
  static readonly MAX_CACHED_TOKENS = 10_000;
  /** Even a long-lived token is re-verified at least this often. */
  static readonly MAX_CACHE_MS = 5 * 60_000;

  private readonly cache = new Map<string, CachedCaller>();
  private readonly allowUnlinkedUsers: boolean;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly verifier: AccessTokenVerifier,
    private readonly identities: IdentityService,
    private readonly clock: Clock,
    private readonly grants: GrantRegistry,
    private readonly accessMetrics: AccessMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly recheck: UserRecheckService,
  ) {
    this.allowUnlinkedUsers = config.access.allowUnlinkedUsers;
    // Roles or status changed (this instance or another): the next call reads the user again.
    grants.onUserChanged((legacyUserId) => identities.forgetLegacyUser(legacyUserId));
  }

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
      const grant = hit.grant;
      if (hit.validUntil > now && !grant.revoked && !grant.evicted && hit.version === grant.identityVersion) {
        grant.lastUsedMs = now;
        this.recheck.noteCall(hit.caller, now);
        return hit.caller;
      }
      this.cache.delete(key);
      if (grant.revoked) throw this.revoked();
    }
    const verified = await this.verifier.verify(token);
    const { identity, definitive } = await this.identities.resolve(verified.sub);
    if (!identity.active) {
      // The legacy app said this person is gone or disabled (their grants are being ended).
      throw this.revoked();
    }
    if (identity.legacyUserId === null) {
      // Nobody could say who this is (WorkOS or the database unreachable): try again shortly.
      if (!definitive) throw new GrantsUnavailableError();
      if (!this.allowUnlinkedUsers) {
        this.accessMetrics.tokenRefused('unlinked');
        throw new TokenRejectedError('unlinked');
      }
    }
    let grant: GrantState;
    try {
      grant = await this.grants.admit(
        {
          workosUserId: verified.sub,
          clientId: verified.clientId ?? '',
          sessionId: typeof verified.claims.sid === 'string' ? verified.claims.sid : '',
          legacyUserId: identity.legacyUserId,
          scopes: verified.scopes,
          issuedAtMs: (verified.claims.iat ?? 0) * 1000,
        },
        now,
      );
    } catch (err) {
      if (err instanceof GrantRevokedError) throw new TokenRejectedError('revoked');
      throw err;
    }
    const claimEmail = typeof verified.claims.email === 'string' ? verified.claims.email : null;
    const caller: McpCaller = Object.freeze({
      sub: verified.sub,
      legacyUserId: identity.legacyUserId,
      email: identity.email ?? claimEmail,
      firstName: identity.firstName,
      lastName: identity.lastName,
      roles: identity.roles,
      tenant: tenantOf(verified.claims.tenant, identity.tenants),
      grantId: grant.id,
      clientId: verified.clientId,
      orgId: verified.orgId,
      scopes: Object.freeze(verified.scopes),
      expiresAt: verified.expiresAt,
      claims: Object.freeze(verified.claims),
    });
    this.recheck.noteCall(caller, now);
    // A caller built while WorkOS or the database was unreachable is used once, not remembered.
    if (definitive)
      this.remember(
        key,
        caller,
        grant,
        Math.min(verified.expiresAt * 1000, now + McpAuthService.MAX_CACHE_MS),
      );
    return caller;
  }

  private revoked(): TokenRejectedError {
    this.grants.refuse();
    return new TokenRejectedError('revoked');
  }

  /** Forgets every verified token (e.g. after a key compromise). */
  clear(): void {
    this.cache.clear();
  }

  private remember(key: string, caller: McpCaller, grant: GrantState, validUntil: number): void {
    if (validUntil <= this.clock.now()) return;
    if (this.cache.size >= McpAuthService.MAX_CACHED_TOKENS) {
      // Oldest first; expired entries are mostly the oldest ones.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { caller, grant, version: grant.identityVersion, validUntil });
  }
}

/**
 * The tenant of a call: the one chosen on the consent screen (claim `tenant`, a tenant id) when
 * the person still belongs to it; with no claim, the only tenant they have; otherwise none.
 */
export function tenantOf(claim: unknown, tenants: readonly LegacyTenant[]): LegacyTenant | null {
  if (typeof claim === 'string') return tenants.find((t) => t.id === claim) ?? null;
  return tenants.length === 1 ? tenants[0] : null;
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
