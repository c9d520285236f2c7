import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SignJWT } from 'jose';
import type { McpCaller } from '../caller';
import { Clock } from '../clock';
import {
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_INVALID_REQUEST,
  JSONRPC_SESSION_NOT_FOUND,
  jsonRpcError,
  requestIdOf,
} from '../http/challenges';
import { MCP_FETCH, type FetchFn } from '../http/fetch-json';
import { isModernRequest, MCP_PARAM_HEADER_PREFIX } from '../http/standard-headers';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { SessionIdBinding, type BoundIdKind } from './session-binding';
import { rewriteEventIds } from './sse-event-ids';

/**
 * Request headers passed to the upstream: what the MCP Streamable HTTP transport defines for a
 * client-to-server request (2025-03-26 … 2026-07-28), plus User-Agent. Mcp-Session-Id and
 * Last-Event-ID go as the upstream issued them (unwrapped, see SessionIdBinding); Mcp-Param-*
 * (SEP-2243) go on 2026-07-28 requests only, where the upstream checks them against its tool's
 * `x-mcp-header` declarations. Everything else stays here: Authorization (the upstream gets the
 * bridge's identity token), Cookie, DPoP, Forwarded / X-Forwarded-*, hop-by-hop headers
 * (Connection, Keep-Alive, TE, Upgrade, Proxy-*, Transfer-Encoding) and any header the
 * Connection header names.
 */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'content-type',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'user-agent',
] as const;
/** Response headers passed back to the client. */
const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'cache-control',
  'retry-after',
];

export const IDENTITY_TOKEN_TTL_SECONDS = 60;

/**
 * Proxy mode (MCP_UPSTREAM_URL): a verified request is forwarded to an existing MCP server, and
 * its answer (JSON or an SSE stream) is streamed back as it arrives. The client's AuthKit token
 * never leaves the bridge (the MCP spec forbids passing it through): the upstream receives
 * `Authorization: Bearer <identity token>`, a short-lived HS256 JWT minted by the bridge and
 * signed with MCP_UPSTREAM_SECRET:
 *   iss = PUBLIC_URL, aud = MCP_UPSTREAM_URL, sub = WorkOS user id, legacy_user_id, email,
 *   client_id, org_id, scope, roles (the legacy app's roles, an array, possibly empty),
 *   tenant ({id, name} of the tenant this AI application may act in, or null), iat, exp (60 s).
 * The upstream enforces roles and tenant itself (the bridge filters only its own tools by role).
 */
@Injectable()
export class UpstreamProxyService {
  private readonly logger = new Logger('McpProxy');
  private readonly minted = new WeakMap<McpCaller, { token: string; exp: number }>();
  private readonly key?: Uint8Array;
  private readonly sessions?: SessionIdBinding;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    @Inject(MCP_FETCH) private readonly fetchFn: FetchFn,
    private readonly clock: Clock,
  ) {
    if (settings.upstream) {
      this.key = new TextEncoder().encode(settings.upstream.secret);
      this.sessions = new SessionIdBinding(settings.upstream.secret);
    }
  }

  get enabled(): boolean {
    return this.settings.upstream !== undefined;
  }

  /** The scopes MCP_UPSTREAM_TOOL_SCOPES lists for an upstream tool (none when unlisted). */
  requiredScopes(tool: string): readonly string[] {
    return this.settings.upstream?.toolScopes.get(tool) ?? [];
  }

  /** Every scope MCP_UPSTREAM_TOOL_SCOPES names. */
  allRequiredScopes(): string[] {
    return [...new Set([...(this.settings.upstream?.toolScopes.values() ?? [])].flat())];
  }

  /**
   * The identity token for this caller, reused while it has more than 20 s to live (a caller
   * object is rebuilt when the person's roles or tenants change, so a reused token never
   * carries stale ones).
   */
  async identityToken(caller: McpCaller): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    const cached = this.minted.get(caller);
    if (cached && cached.exp - now > 20) return cached.token;
    const upstream = this.settings.upstream!;
    const exp = now + IDENTITY_TOKEN_TTL_SECONDS;
    const token = await new SignJWT({
      legacy_user_id: caller.legacyUserId,
      email: caller.email,
      client_id: caller.clientId,
      org_id: caller.orgId,
      scope: caller.scopes.join(' '),
      roles: [...caller.roles],
      tenant: caller.tenant ? { id: caller.tenant.id, name: caller.tenant.name } : null,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.settings.publicUrl)
      .setAudience(upstream.url)
      .setSubject(caller.sub)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key!);
    this.minted.set(caller, { token, exp });
    return token;
  }

  /**
   * Forwards one verified request (its headers and body already checked by McpEndpointService).
   * The upstream's session ids and SSE event ids reach the client bound to the caller
   * (SessionIdBinding): a presented Mcp-Session-Id must be one this bridge bound to this caller,
   * else 404 (unknown session); a Last-Event-ID likewise, else 400. The upstream never sees
   * those requests, nor a bound id.
   */
  async forward(req: Request, res: Response, caller: McpCaller): Promise<void> {
    const upstream = this.settings.upstream!;
    const session = this.unbound(req, caller, 'mcp-session-id', 'session');
    if (session === null) {
      res.status(404).setHeader('Content-Type', 'application/json');
      res.end(jsonRpcError(JSONRPC_SESSION_NOT_FOUND, 'Session not found', requestIdOf(req.body)));
      return;
    }
    const lastEventId = this.unbound(req, caller, 'last-event-id', 'event');
    if (lastEventId === null) {
      res.status(400).setHeader('Content-Type', 'application/json');
      res.end(
        jsonRpcError(
          JSONRPC_INVALID_REQUEST,
          'Invalid Request: Last-Event-ID names no event this server sent you.',
          requestIdOf(req.body),
        ),
      );
      return;
    }
    const headers = forwardedHeaders(req);
    if (session !== undefined) headers['mcp-session-id'] = session;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    headers.authorization = `Bearer ${await this.identityToken(caller)}`;
    const method = req.method;
    const body = method === 'POST' && req.body !== undefined ? JSON.stringify(req.body) : undefined;
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.once('close', onClose);
    let answer: globalThis.Response;
    try {
      answer = await this.fetchFn(upstream.url, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: abort.signal,
      });
    } catch (err) {
      res.off('close', onClose);
      if (abort.signal.aborted) return;
      this.logger.warn(`upstream MCP server unreachable: ${(err as Error).message}`);
      return this.fail(res, 502, 'The upstream MCP server is unreachable.', req.body);
    }
    if (answer.status === 401 || answer.status === 403) {
      // Not the client's fault: passing this on would send the client back to AuthKit for nothing.
      await answer.body?.cancel();
      res.off('close', onClose);
      this.logger.error(`the upstream MCP server refused the bridge's identity token (${answer.status})`);
      return this.fail(res, 502, "The upstream MCP server refused the bridge's credentials.", req.body);
    }
    res.status(answer.status);
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = answer.headers.get(name);
      if (value === null) continue;
      if (name !== 'mcp-session-id') res.setHeader(name, value);
      // The client gets the upstream's session id bound to the caller, never as is.
      else if (value !== '') res.setHeader(name, this.sessions!.wrap(caller.sub, value));
    }
    if (!answer.body) {
      res.off('close', onClose);
      res.end();
      return;
    }
    let stream = answer.body;
    if ((answer.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      // Event ids come back as Last-Event-ID: bound to the caller like the session id.
      stream = stream.pipeThrough(rewriteEventIds((id) => this.sessions!.wrap(caller.sub, id, 'event')));
    }
    try {
      await pipeline(Readable.fromWeb(stream as import('node:stream/web').ReadableStream), res);
    } catch (err) {
      if (!abort.signal.aborted) this.logger.warn(`upstream stream ended early: ${(err as Error).message}`);
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
  }

  /**
   * The upstream's id inside the bound id the request carries in `header`: undefined when there
   * is none, null when it is not one bound to this caller (or sent twice).
   */
  private unbound(
    req: Request,
    caller: McpCaller,
    header: 'mcp-session-id' | 'last-event-id',
    kind: BoundIdKind,
  ): string | null | undefined {
    const presented = req.headers[header];
    if (presented === undefined) return undefined;
    return (typeof presented === 'string' && this.sessions!.unwrap(caller.sub, presented, kind)) || null;
  }

  private fail(res: Response, status: number, message: string, body: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).setHeader('Content-Type', 'application/json');
    res.end(jsonRpcError(JSONRPC_INTERNAL_ERROR, message, requestIdOf(body)));
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and credentials: never forwarded, whatever else says so. */
const NEVER_FORWARDED = new Set([
  'authorization',
  'cookie',
  'dpop',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** The request headers the upstream gets (see FORWARDED_REQUEST_HEADERS), bound ids left out. */
function forwardedHeaders(req: Request): Record<string, string> {
  // Headers the Connection header names are hop-by-hop too: they stay here.
  const hopByHop = new Set(NEVER_FORWARDED);
  const connection = req.headers.connection;
  if (typeof connection === 'string') {
    for (const name of connection.split(',')) hopByHop.add(name.trim().toLowerCase());
  }
  const headers: Record<string, string> = {};
  const pass = (name: string) => {
    const value = req.headers[name];
    if (typeof value === 'string' && !hopByHop.has(name)) headers[name] = value;
  };
  for (const name of FORWARDED_REQUEST_HEADERS) pass(name);
  if (req.method === 'POST' && isModernRequest(req.body)) {
    for (const name of Object.keys(req.headers)) if (name.startsWith(MCP_PARAM_HEADER_PREFIX)) pass(name);
  }
  return headers;
}
