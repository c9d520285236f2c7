import type { JWTPayload } from 'jose';
import type { LegacyTenant } from '../legacy-session/legacy-user';

/**
 * Who is calling an MCP tool, as the bridge established it: the verified AuthKit access token
 * plus the legacy identity linked to it. Handed to every tool handler.
 */
export interface McpCaller {
  /** The WorkOS (AuthKit) user id, the token's `sub`. */
  readonly sub: string;
  /** The user's id in the legacy app (the WorkOS user's external id); null when unknown. */
  readonly legacyUserId: string | null;
  readonly email: string | null;
  readonly firstName: string | null;
  readonly lastName: string | null;
  /** Roles in the legacy app (as last heard: at sign-in, then every LEGACY_USER_RECHECK_SECONDS). */
  readonly roles: readonly string[];
  /**
   * The tenant this AI application may act in: the one chosen on AuthKit's consent screen (token
   * claim `tenant`), or the only one; null when the person has none (or the chosen one is gone).
   */
  readonly tenant: Readonly<LegacyTenant> | null;
  /** The grant this call is made under (one client's access for one user; see src/access). */
  readonly grantId: string;
  /** The OAuth client the token was issued to (`client_id`). */
  readonly clientId: string | null;
  /** The WorkOS organization (`org_id`), when the token has one. */
  readonly orgId: string | null;
  /** Granted scopes (`scope`, split). */
  readonly scopes: readonly string[];
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
  /** Every claim of the verified token (custom claims such as consent choices included). */
  readonly claims: Readonly<JWTPayload>;
}

/** True when the caller holds at least one of `anyOf` (or nothing is required). */
export function hasAnyRole(caller: Pick<McpCaller, 'roles'>, anyOf: readonly string[]): boolean {
  return anyOf.length === 0 || anyOf.some((r) => caller.roles.includes(r));
}

/** True when every scope in `required` was granted. */
export function hasScopes(caller: Pick<McpCaller, 'scopes'>, required: readonly string[]): boolean {
  for (const scope of required) if (!caller.scopes.includes(scope)) return false;
  return true;
}
