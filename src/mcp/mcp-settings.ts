import type { AppConfig } from '../config/app-config';

/** Injection token for {@link McpSettings}. */
export const MCP_SETTINGS = Symbol('MCP_SETTINGS');

/**
 * Everything the MCP module needs from AppConfig, derived once. Read at module construction,
 * which in demo mode happens after the embedded emulator has filled in the WorkOS settings.
 */
export interface McpSettings {
  /** The canonical MCP URL: `$PUBLIC_URL/mcp`, the `resource` of the metadata document. */
  resourceUrl: string;
  /** `$PUBLIC_URL/.well-known/oauth-protected-resource/mcp`, advertised in every challenge. */
  resourceMetadataUrl: string;
  /** PUBLIC_URL, no trailing slash. */
  publicUrl: string;
  publicOrigin: string;
  /** AuthKit's issuer, exactly as configured; undefined when AUTHKIT_DOMAIN is not set. */
  issuer?: string;
  jwksUrl?: string;
  /** Accepted `aud` values. */
  audiences: string[];
  /**
   * The scopes that matter to MCP operations, asked for in the 401 challenge (never
   * offline_access: it is about the token, not the operation; the 403 insufficient_scope
   * challenge keeps only these).
   */
  challengeScopes: string[];
  /**
   * MCP_REQUEST_OFFLINE_ACCESS: also ask for offline_access in the 401 challenge and list it in
   * scopes_supported, so that clients that do not add it themselves (MCP SEP-2207) still get
   * refresh tokens. Off by default, as the MCP specification advises.
   */
  requestOfflineAccess: boolean;
  resourceName: string;
  documentationUrl: string;
  /** Full origins allowed on /mcp besides the public origin; '*' allows any. */
  allowedOrigins: string[];
  /** The WorkOS client id (the audience check's warning); the API itself is called through src/authkit. */
  workos: { clientId?: string };
  /**
   * Proxy mode: the upstream MCP endpoint, the secret that signs the identity token and binds
   * session ids, and the scopes each upstream tool needs (MCP_UPSTREAM_TOOL_SCOPES).
   */
  upstream?: { url: string; secret: string; toolScopes: ReadonlyMap<string, readonly string[]> };
  /** Seconds of clock skew tolerated on exp / nbf / iat. */
  clockToleranceSeconds: number;
  /** The largest token accepted (bytes of the Authorization header value). */
  maxTokenLength: number;
  /** After a failed JWKS fetch, the next one (for an unknown `kid`, or while no set is held) no sooner than this. */
  jwksRefetchIntervalMs: number;
  /**
   * After a successful JWKS fetch, an unknown `kid` is refused at once (no refetch) for this long;
   * a key AuthKit rotated in is therefore accepted at most this long after the last fetch. Also the
   * background refresh's spacing.
   */
  jwksCooldownMs: number;
  /** At most this many requests wait for one JWKS fetch; beyond it: refused at once (unknown key, or unavailable while no set is held). */
  jwksMaxWaiting: number;
  /** JWKS older than this is refreshed in the background (the old set stays in use). */
  jwksMaxAgeMs: number;
  /** AuthKit metadata is refetched after this long. */
  metadataTtlMs: number;
  /** Time limit for each call to AuthKit (metadata, JWKS). */
  fetchTimeoutMs: number;
}

const OFFLINE = 'offline_access';
const INSPECTOR_ORIGINS = ['http://localhost:6274', 'http://127.0.0.1:6274'];

export function mcpSettingsFrom(config: AppConfig): McpSettings {
  const publicOrigin = new URL(config.publicUrl).origin;
  const resourceUrl = `${config.publicUrl}/mcp`;
  const resourcePath = new URL(resourceUrl).pathname;
  const issuer = config.workos.authkitDomain;
  return {
    resourceUrl,
    resourceMetadataUrl: `${publicOrigin}/.well-known/oauth-protected-resource${resourcePath}`,
    publicUrl: config.publicUrl,
    publicOrigin,
    issuer,
    jwksUrl: issuer ? `${issuer}/oauth2/jwks` : undefined,
    audiences: config.mcp.audience,
    challengeScopes: unique(config.mcp.scopes).filter((s) => s !== OFFLINE),
    requestOfflineAccess: config.access.requestOfflineAccess,
    resourceName: config.mcp.resourceName,
    documentationUrl: config.mcp.documentationUrl,
    // The local demo works with MCP Inspector's browser UI out of the box.
    allowedOrigins:
      config.demo && !config.production
        ? unique([...config.mcp.allowedOrigins, ...INSPECTOR_ORIGINS])
        : config.mcp.allowedOrigins,
    workos: { clientId: config.workos.clientId },
    upstream:
      config.mcp.upstreamUrl && config.mcp.upstreamSecret
        ? {
            url: config.mcp.upstreamUrl,
            secret: config.mcp.upstreamSecret,
            toolScopes: new Map(
              Object.entries(config.mcp.upstreamToolScopes).map(([tool, scopes]) => [tool, unique(scopes)]),
            ),
          }
        : undefined,
    clockToleranceSeconds: 5,
    maxTokenLength: 8192,
    jwksRefetchIntervalMs: 1_000,
    jwksCooldownMs: 30_000,
    jwksMaxWaiting: 100,
    jwksMaxAgeMs: 10 * 60_000,
    metadataTtlMs: 5 * 60_000,
    fetchTimeoutMs: 5_000,
  };
}

export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

export const isOfflineScope = (scope: string): boolean => scope === OFFLINE;

/**
 * `scopes` without offline_access, then offline_access last when `request` is on
 * (MCP_REQUEST_OFFLINE_ACCESS): the 401 challenge's `scope` and `scopes_supported`.
 */
export function withOfflineAccess(scopes: readonly string[], request: boolean): string[] {
  const rest = unique(scopes).filter((s) => !isOfflineScope(s));
  return request ? [...rest, OFFLINE] : rest;
}
