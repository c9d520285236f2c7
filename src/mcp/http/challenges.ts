import { REJECTION_DESCRIPTIONS, type TokenRejection } from '../auth/token-errors';
import { withOfflineAccess, type McpSettings } from '../mcp-settings';

/** An RFC 7230 quoted-string. Every value here is ours (URLs, scopes, fixed sentences). */
const quoted = (value: string): string =>
  `"${value.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7E]/g, ' ')}"`;

/** JSON-RPC error codes the HTTP layer uses (the SDK's own errors keep theirs). */
export const JSONRPC_UNAUTHORIZED = -32001;
export const JSONRPC_SERVER_ERROR = -32000;
export const JSONRPC_INTERNAL_ERROR = -32603;
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
/** What MCP SDK servers answer (with 404) for a session id they do not know. */
export const JSONRPC_SESSION_NOT_FOUND = -32001;

export type JsonRpcId = string | number | null;

/** A JSON-RPC error response body, as a string ready to send. */
export function jsonRpcError(code: number, message: string, id: JsonRpcId = null, data?: unknown): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    error: { code, message, ...(data !== undefined ? { data } : {}) },
    id,
  });
}

/** The id to echo in an error: the request's, when the body is one request; null otherwise. */
export function requestIdOf(body: unknown): JsonRpcId {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}

/**
 * The `WWW-Authenticate` challenges of /mcp (RFC 6750, RFC 9728, MCP authorization):
 * - no token:       Bearer resource_metadata="…", scope="…"
 * - refused token:  Bearer error="invalid_token", error_description="…", resource_metadata="…", scope="…"
 * - missing scopes: Bearer error="insufficient_scope", error_description="…", scope="…", resource_metadata="…"
 * The 401 challenges' `scope` is the configured MCP_SCOPES, plus offline_access with
 * MCP_REQUEST_OFFLINE_ACCESS=true; the 403's lists exactly the scopes the operation needs.
 * Built once per distinct value; nothing from the request is ever echoed.
 */
export class Challenges {
  readonly noToken: string;
  private readonly invalid = new Map<TokenRejection, string>();
  private readonly scopeSuffix: string;
  private readonly metadata: string;

  constructor(
    settings: Pick<McpSettings, 'resourceMetadataUrl' | 'challengeScopes' | 'requestOfflineAccess'>,
  ) {
    this.metadata = `resource_metadata=${quoted(settings.resourceMetadataUrl)}`;
    const scopes = withOfflineAccess(settings.challengeScopes, settings.requestOfflineAccess);
    this.scopeSuffix = scopes.length ? `, scope=${quoted(scopes.join(' '))}` : '';
    this.noToken = `Bearer ${this.metadata}${this.scopeSuffix}`;
  }

  /** The challenge for a refused token (or no token at all). */
  forRejection(reason: TokenRejection): string {
    if (reason === 'missing') return this.noToken;
    let header = this.invalid.get(reason);
    if (header === undefined) {
      header = `Bearer error="invalid_token", error_description=${quoted(REJECTION_DESCRIPTIONS[reason])}, ${this.metadata}${this.scopeSuffix}`;
      this.invalid.set(reason, header);
    }
    return header;
  }

  insufficientScope(scopes: readonly string[], description: string): string {
    return `Bearer error="insufficient_scope", error_description=${quoted(description)}, scope=${quoted(scopes.join(' '))}, ${this.metadata}`;
  }
}
