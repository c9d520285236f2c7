import { opaqueToken, prefixedId } from './ids';
import type { EmulatorState, OAuthClient } from './state';

export class ClientError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:']);

/**
 * Redirect URIs a client may register: https anywhere, http only on loopback, or a
 * private-use scheme of a native app (`cursor://…`); never a fragment.
 */
export function checkRedirectUri(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri.length > 2000) return 'must be a string of at most 2000 characters';
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return 'must be an absolute URI';
  }
  if (u.hash || uri.includes('#')) return 'must not contain a fragment';
  if (FORBIDDEN_SCHEMES.has(u.protocol)) return `scheme ${u.protocol} is not allowed`;
  if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) return 'http is only allowed on loopback hosts';
  return undefined;
}

export interface RegistrationOptions {
  enabled: boolean;
}

/** RFC 7591 dynamic client registration. Returns the registered client or throws ClientError. */
export function registerClient(state: EmulatorState, body: unknown): OAuthClient {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ClientError('invalid_client_metadata', 'the body must be a JSON object');
  const m = body as Record<string, unknown>;
  if (!Array.isArray(m.redirect_uris) || m.redirect_uris.length === 0)
    throw new ClientError('invalid_redirect_uri', 'redirect_uris must be a non-empty array');
  if (m.redirect_uris.length > 20) throw new ClientError('invalid_redirect_uri', 'at most 20 redirect_uris');
  for (const uri of m.redirect_uris) {
    const problem = checkRedirectUri(uri);
    if (problem) throw new ClientError('invalid_redirect_uri', `redirect_uri ${String(uri)}: ${problem}`);
  }
  const method = m.token_endpoint_auth_method ?? 'none';
  if (method !== 'none' && method !== 'client_secret_post' && method !== 'client_secret_basic')
    throw new ClientError(
      'invalid_client_metadata',
      'token_endpoint_auth_method must be none, client_secret_post or client_secret_basic',
    );
  const grantTypes = m.grant_types ?? ['authorization_code', 'refresh_token'];
  if (
    !Array.isArray(grantTypes) ||
    grantTypes.some((g) => g !== 'authorization_code' && g !== 'refresh_token')
  )
    throw new ClientError(
      'invalid_client_metadata',
      'grant_types may only hold authorization_code and refresh_token',
    );
  const responseTypes = m.response_types ?? ['code'];
  if (!Array.isArray(responseTypes) || responseTypes.some((r) => r !== 'code'))
    throw new ClientError('invalid_client_metadata', 'response_types may only hold code');
  if (m.client_name !== undefined && (typeof m.client_name !== 'string' || m.client_name.length > 200))
    throw new ClientError(
      'invalid_client_metadata',
      'client_name must be a string of at most 200 characters',
    );
  if (m.scope !== undefined && typeof m.scope !== 'string')
    throw new ClientError('invalid_client_metadata', 'scope must be a space-separated string');
  const client: OAuthClient = {
    scope: m.scope as string | undefined,
    clientId: prefixedId('client'),
    name: m.client_name as string | undefined,
    redirectUris: m.redirect_uris as string[],
    tokenEndpointAuthMethod: method,
    clientSecret: method === 'none' ? undefined : opaqueToken(),
    grantTypes: grantTypes as string[],
    source: 'dynamic',
    createdAt: Date.now(),
  };
  state.clients.set(client.clientId, client);
  return client;
}

export function registrationResponse(client: OAuthClient): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    ...(client.clientSecret ? { client_secret: client.clientSecret, client_secret_expires_at: 0 } : {}),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.scope ? { scope: client.scope } : {}),
  };
}

export interface CimdOptions {
  enabled: boolean;
  allowHttpLocalhost: boolean;
  fetch: typeof fetch;
  cacheSeconds: number;
  timeoutMs: number;
}

/** Is this client_id a Client ID Metadata Document URL (as opposed to an opaque id)? */
export const looksLikeUrl = (clientId: string): boolean => /^https?:\/\//i.test(clientId);

/** The URL rules of the CIMD draft: https, a path, no fragment, no credentials, no dot segments. */
export function checkCimdUrl(clientId: string, allowHttpLocalhost: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return 'client_id is not a valid URL';
  }
  const localhost = LOOPBACK.has(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && localhost && allowHttpLocalhost))
    return localhost
      ? 'http://localhost client_id URLs need the allowHttpLocalhostClientIds development option'
      : 'a client_id URL must use https';
  if (u.hash || clientId.includes('#')) return 'a client_id URL must not contain a fragment';
  if (u.username || u.password) return 'a client_id URL must not contain credentials';
  if (u.pathname === '/' || u.pathname === '') return 'a client_id URL must contain a path';
  if (/(^|\/)\.{1,2}(\/|$)/.test(clientId.replace(/^[a-z]+:\/\/[^/]+/i, '')))
    return 'a client_id URL must not contain dot segments';
  return undefined;
}

/** Fetches and validates a Client ID Metadata Document. Throws ClientError(invalid_client). */
export async function fetchCimdClient(
  state: EmulatorState,
  clientId: string,
  opts: CimdOptions,
): Promise<OAuthClient> {
  const cached = state.clients.get(clientId);
  if (cached && cached.source === 'cimd' && (cached.cachedUntil ?? 0) > Date.now()) return cached;
  if (!opts.enabled) throw new ClientError('invalid_client', 'client ID metadata documents are not enabled');
  const problem = checkCimdUrl(clientId, opts.allowHttpLocalhost);
  if (problem) throw new ClientError('invalid_client', problem);
  let doc: unknown;
  try {
    const res = await opts.fetch(clientId, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > 10_000) throw new Error('document larger than 10 kB');
    doc = JSON.parse(text);
  } catch (err) {
    throw new ClientError(
      'invalid_client',
      `could not fetch the client ID metadata document: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new ClientError('invalid_client', 'the client ID metadata document is not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m.client_id !== clientId)
    throw new ClientError('invalid_client', 'client_id in the metadata document does not equal its URL');
  if (!Array.isArray(m.redirect_uris) || m.redirect_uris.length === 0)
    throw new ClientError('invalid_client', 'the metadata document has no redirect_uris');
  for (const uri of m.redirect_uris) {
    const p = checkRedirectUri(uri);
    if (p) throw new ClientError('invalid_client', `redirect_uri ${String(uri)}: ${p}`);
  }
  const method = m.token_endpoint_auth_method ?? 'none';
  if (method !== 'none')
    throw new ClientError(
      'invalid_client',
      'a metadata-document client must use token_endpoint_auth_method none',
    );
  if (m.client_secret !== undefined || m.client_secret_expires_at !== undefined)
    throw new ClientError('invalid_client', 'a metadata document must not contain a client_secret');
  const client: OAuthClient = {
    clientId,
    name: typeof m.client_name === 'string' ? m.client_name : undefined,
    redirectUris: m.redirect_uris as string[],
    tokenEndpointAuthMethod: 'none',
    grantTypes: Array.isArray(m.grant_types)
      ? (m.grant_types as string[])
      : ['authorization_code', 'refresh_token'],
    source: 'cimd',
    createdAt: Date.now(),
    cachedUntil: Date.now() + opts.cacheSeconds * 1000,
  };
  state.clients.set(clientId, client);
  return client;
}

/** The client behind a client_id: registered, pre-registered or fetched (CIMD). */
export async function resolveClient(
  state: EmulatorState,
  clientId: string,
  cimd: CimdOptions,
): Promise<OAuthClient> {
  const known = state.clients.get(clientId);
  if (known && known.source !== 'cimd') return known;
  if (looksLikeUrl(clientId)) return fetchCimdClient(state, clientId, cimd);
  throw new ClientError('invalid_client', 'unknown client_id');
}
