import type { JWTPayload } from 'jose';

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

/** True when every scope in `required` was granted. */
export function hasScopes(caller: Pick<McpCaller, 'scopes'>, required: readonly string[]): boolean {
  for (const scope of required) if (!caller.scopes.includes(scope)) return false;
  return true;
}
