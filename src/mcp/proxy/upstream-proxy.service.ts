import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SignJWT } from 'jose';
import type { McpCaller } from '../caller';
import { Clock } from '../clock';
import { JSONRPC_INTERNAL_ERROR, jsonRpcError, requestIdOf } from '../http/challenges';
import { MCP_FETCH, type FetchFn } from '../http/fetch-json';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';

/** Request headers passed to the upstream; everything else (Authorization, Cookie, …) stays here. */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
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
 *   client_id, org_id, scope, iat, exp (60 s).
 */
@Injectable()
export class UpstreamProxyService {
  private readonly logger = new Logger('McpProxy');
  private readonly minted = new WeakMap<McpCaller, { token: string; exp: number }>();
  private readonly key?: Uint8Array;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    @Inject(MCP_FETCH) private readonly fetchFn: FetchFn,
    private readonly clock: Clock,
  ) {
    if (settings.upstream) this.key = new TextEncoder().encode(settings.upstream.secret);
  }

  get enabled(): boolean {
    return this.settings.upstream !== undefined;
  }

  /** The identity token for this caller, reused while it has more than 20 s to live. */
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

  async forward(req: Request, res: Response, caller: McpCaller): Promise<void> {
    const upstream = this.settings.upstream!;
    const headers: Record<string, string> = { authorization: `Bearer ${await this.identityToken(caller)}` };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
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
      if (value !== null) res.setHeader(name, value);
    }
    if (!answer.body) {
      res.off('close', onClose);
      res.end();
      return;
    }
    if ((answer.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
    }
    try {
      await pipeline(Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream), res);
    } catch (err) {
      if (!abort.signal.aborted) this.logger.warn(`upstream stream ended early: ${(err as Error).message}`);
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
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
