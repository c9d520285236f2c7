import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import {
  createMcpHandler,
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AuthInfo,
  type JSONRPCMessage,
  type McpHttpHandler,
} from '@modelcontextprotocol/server';
import { toNodeHandler, type NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import type { Request, Response } from 'express';
import { GrantsUnavailableError } from '../../access/grant-registry.service';
import { KeySetUnavailableError } from '../auth/jwks-key-store';
import { McpAuthService } from '../auth/mcp-auth.service';
import { TokenRejectedError } from '../auth/token-errors';
import { hasAnyRole, hasScopes, type McpCaller } from '../caller';
import {
  Challenges,
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_SERVER_ERROR,
  JSONRPC_UNAUTHORIZED,
  jsonRpcError,
  requestIdOf,
} from '../http/challenges';
import { bodyErrorAnswer } from '../http/deferred-body-error';
import { McpOriginPolicy } from '../http/origin-policy';
import { headerBodyMismatch, JSONRPC_HEADER_MISMATCH } from '../http/standard-headers';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { UpstreamProxyService } from '../proxy/upstream-proxy.service';
import type { McpToolContext } from '../tools/mcp-tool.decorator';
import { McpToolRegistry } from '../tools/tool-registry';
import { ExchangeTransport } from './exchange.transport';
import { isJsonRpcMessage } from './json-rpc-shape';
import { McpServerFactory } from './mcp-server.factory';

const LEGACY_VERSIONS = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS);
const JSON_MEDIA_TYPE = /^application\/json\s*(;|$)/i;

interface JsonRpcRequestLike {
  jsonrpc: '2.0';
  method: string;
  id?: string | number;
  params?: { _meta?: Record<string, unknown>; name?: unknown };
}

/**
 * POST/GET/DELETE /mcp: Streamable HTTP, stateless (no Mcp-Session-Id; any instance answers any
 * request), behind the bearer check.
 *
 * Order: Origin and CORS (403; a preflight is answered, McpOriginPolicy) → token (401 / 503) →
 * a body the parser refused (-32700 / -32600) → on POST, Mcp-Method / Mcp-Name / MCP-Protocol-Version
 * / Mcp-Param-* disagreeing with the body (400, -32020) → proxy mode (scope check of every
 * tools/call against MCP_UPSTREAM_TOOL_SCOPES (403), session binding (404), forward) → method →
 * Content-Type → scope check of every tools/call in the body (403; not for a tool the caller
 * lacks the role for: the registry refuses that call with an error result) → the SDK.
 *
 * Two ways into the SDK's `Server`, same factory, same tools:
 * - the common case, one 2025-era JSON-RPC message from a client that accepts JSON (every v1
 *   and v2 client, protocol versions 2024-11-05 … 2025-11-25): a fresh SDK `Server` per request
 *   connected to a one-exchange transport, answered with `application/json`. This skips the
 *   SDK HTTP transport's conversion to web Request/Response streams, which costs ~400 µs a request.
 *   A tools/call of a registered tool with well-formed params skips the Server too: the registry
 *   answers it with the SDK's result check and JSON-RPC shapes (see callTool).
 * - everything else (2026-07-28 per-request envelopes, batches, SSE-only clients, malformed
 *   JSON-RPC, unsupported protocol versions): the SDK's own `createMcpHandler` via
 *   `toNodeHandler`, which owns those answers.
 */
@Injectable()
export class McpEndpointService implements OnModuleDestroy {
  private readonly logger = new Logger('Mcp');
  readonly challenges: Challenges;
  private readonly sdkHandler: McpHttpHandler;
  private readonly sdkNode: NodeMcpRequestHandler;

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    private readonly auth: McpAuthService,
    private readonly servers: McpServerFactory,
    private readonly tools: McpToolRegistry,
    private readonly proxy: UpstreamProxyService,
    private readonly origins: McpOriginPolicy,
  ) {
    this.challenges = new Challenges(settings);
    this.sdkHandler = createMcpHandler(
      (ctx) => this.servers.create((ctx.authInfo?.extra as { caller: McpCaller }).caller),
      {
        legacy: 'stateless',
        onerror: (err) => this.logger.debug(`MCP request refused by the SDK: ${err.message}`),
      },
    );
    this.sdkNode = toNodeHandler(this.sdkHandler, {
      onerror: (err) => this.logger.error({ err }, 'MCP SDK handler failed'),
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.sdkHandler.close();
  }

  async handle(req: Request, res: Response): Promise<void> {
    try {
      // First, on every request the router hands to the MCP endpoint (DNS-rebinding defence).
      if (!this.origins.admit(req, res)) return;
      if (!this.settings.issuer) {
        return send(
          res,
          503,
          jsonRpcError(JSONRPC_SERVER_ERROR, 'The MCP endpoint is not configured (AUTHKIT_DOMAIN).'),
        );
      }
      const method = req.method;
      if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
        res.setHeader('Allow', 'GET, POST, DELETE, OPTIONS');
        return send(res, 405, jsonRpcError(JSONRPC_SERVER_ERROR, 'Method not allowed.'));
      }
      let caller: McpCaller;
      try {
        caller = await this.auth.authenticate(req.headers.authorization);
      } catch (err) {
        return this.refuse(res, err, req.body);
      }
      // For the access-log line (src/logging): which MCP client made this call.
      if (caller.clientId) res.locals.clientId = caller.clientId;
      const unreadable = bodyErrorAnswer(req);
      if (unreadable) return send(res, unreadable.status, jsonRpcError(unreadable.code, unreadable.message));
      if (method === 'POST') {
        const mismatch = headerBodyMismatch(req.headers, req.body);
        if (mismatch) {
          return send(
            res,
            400,
            jsonRpcError(
              JSONRPC_HEADER_MISMATCH,
              `Bad Request: the request headers and body disagree: ${mismatch.reason}`,
              requestIdOf(req.body),
              { mismatch: { header: mismatch.header } },
            ),
          );
        }
      }
      if (this.proxy.enabled) {
        // The upstream's tools, with the scopes MCP_UPSTREAM_TOOL_SCOPES gives them.
        if (method === 'POST' && this.refuseMissingScopes(res, req.body, caller)) return;
        return await this.proxy.forward(req, res, caller);
      }
      if (method !== 'POST') {
        // Stateless: there is no session to stream from (GET) or to end (DELETE).
        res.setHeader('Allow', 'POST');
        return send(res, 405, jsonRpcError(JSONRPC_SERVER_ERROR, 'Method not allowed.'));
      }
      await this.post(req, res, caller);
    } catch (err) {
      this.logger.error({ err }, 'MCP request failed');
      if (res.headersSent) res.destroy();
      else send(res, 500, jsonRpcError(JSONRPC_INTERNAL_ERROR, 'Internal error', requestIdOf(req.body)));
    }
  }

  private async post(req: Request, res: Response, caller: McpCaller): Promise<void> {
    const body: unknown = req.body;
    if (!JSON_MEDIA_TYPE.test(req.headers['content-type'] ?? '')) {
      return send(
        res,
        415,
        jsonRpcError(JSONRPC_SERVER_ERROR, 'Unsupported Media Type: Content-Type must be application/json'),
      );
    }
    if (this.refuseMissingScopes(res, body, caller)) return;
    if (isPlainExchange(req, body)) return this.exchange(res, caller, body);
    (req as Request & { auth?: AuthInfo }).auth = authInfoFor(caller, this.settings);
    await this.sdkNode(req, res, body);
  }

  /** One 2025-era message answered with JSON by a fresh SDK Server on a one-exchange transport. */
  private async exchange(res: Response, caller: McpCaller, message: JsonRpcRequestLike): Promise<void> {
    if (message.id === undefined) {
      // A notification (notifications/initialized, …): nothing to answer in a stateless server.
      res.statusCode = 202;
      res.end();
      return;
    }
    if (message.method === 'tools/call') {
      const call = this.directToolCall(message.params);
      if (call) return this.callTool(res, caller, message.id, call);
    }
    const server = this.servers.create(caller);
    let answered = false;
    const transport = new ExchangeTransport((response: JSONRPCMessage) => {
      answered = true;
      if (res.destroyed) return;
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(response));
    });
    await server.connect(transport);
    res.once('close', () => {
      if (!answered) void server.close();
    });
    transport.deliver(message as JSONRPCMessage);
  }

  /**
   * A tools/call the registry can answer directly: a registered tool, `arguments` and `_meta`
   * absent or objects. Anything else (unknown tool, malformed params) goes to the SDK Server,
   * which owns those answers.
   */
  private directToolCall(params: JsonRpcRequestLike['params']): { name: string; args: unknown } | undefined {
    if (!params || typeof params.name !== 'string' || !this.tools.get(params.name)) return undefined;
    const { arguments: args, _meta: meta } = params as { arguments?: unknown; _meta?: unknown };
    if (args !== undefined && !isPlainObject(args)) return undefined;
    if (meta !== undefined && !isPlainObject(meta)) return undefined;
    return { name: params.name, args };
  }

  /**
   * tools/call answered by the registry without building an SDK Server for the request: the same
   * dispatch and JSON-RPC shapes as the SDK's tools/call (result, or error with the thrown code,
   * else -32603), the signal aborted when the client goes away (made only for a tool that reads
   * it: an AbortController and a listener per call cost more than whoami); test/mcp/direct-calls.e2e.ts
   * holds the answers byte for byte to the SDK's. A Server per call
   * costs ~65 µs of CPU plus GC at 100 connections, a third of the whole request (bench/).
   */
  private async callTool(
    res: Response,
    caller: McpCaller,
    id: string | number,
    call: { name: string; args: unknown },
  ): Promise<void> {
    const context = new DirectCallContext(res, id);
    let response: string;
    try {
      const result = await this.tools.call(call.name, call.args, caller, context);
      // The registry only returns checked CallToolResults (it turns a malformed one into an
      // error result), so the SDK's result check would pass: the SDK's success shape, as is.
      response = JSON.stringify({ result, jsonrpc: '2.0', id });
    } catch (err) {
      const e = err as { code?: unknown; message?: string; data?: unknown };
      response = JSON.stringify({
        jsonrpc: '2.0',
        id,
        error: {
          code: Number.isSafeInteger(e.code) ? e.code : ProtocolErrorCode.InternalError,
          message: e.message ?? 'Internal error',
          ...(e.data !== undefined && { data: e.data }),
        },
      });
    }
    if (context.markAnswered()) return;
    send(res, 200, response);
  }

  /**
   * 403 insufficient_scope when a tools/call in the body (one message or a batch) names a tool
   * whose scopes the token lacks: a local tool's @McpTool requiredScopes, or in proxy mode the
   * upstream tool's MCP_UPSTREAM_TOOL_SCOPES. True when refused (answered).
   */
  private refuseMissingScopes(res: Response, body: unknown, caller: McpCaller): boolean {
    const missing = this.missingScopes(body, caller);
    if (!missing) return false;
    res.setHeader('WWW-Authenticate', this.challenges.insufficientScope(missing.scopes, missing.description));
    send(
      res,
      403,
      jsonRpcError(JSONRPC_UNAUTHORIZED, `Forbidden: ${missing.description}`, requestIdOf(body)),
    );
    return true;
  }

  /** The scopes a tools/call in the body needs and the token lacks (plus what it has), if any. */
  private missingScopes(
    body: unknown,
    caller: McpCaller,
  ): { scopes: string[]; description: string } | undefined {
    const proxied = this.proxy.enabled;
    const messages = Array.isArray(body) ? body : [body];
    for (const message of messages) {
      if (!message || typeof message !== 'object') continue;
      const { method, params } = message as JsonRpcRequestLike;
      if (method !== 'tools/call' || typeof params?.name !== 'string') continue;
      let required: readonly string[];
      if (proxied) required = this.proxy.requiredScopes(params.name);
      else {
        const tool = this.tools.get(params.name);
        // A caller without the tool's role gets the registry's refusal (an error result naming
        // the roles), not a scope challenge: re-authorizing would not give it the role.
        if (tool && !hasAnyRole(caller, tool.roles)) continue;
        required = tool?.requiredScopes ?? [];
      }
      if (hasScopes(caller, required)) continue;
      // The operation's scopes, plus the granted ones that matter here, so that a client that
      // re-authorizes with exactly this list keeps what it had (MCP 2025-11-25, scope challenges).
      const relevant = new Set([
        ...this.settings.challengeScopes,
        ...(proxied ? this.proxy.allRequiredScopes() : this.tools.requiredScopes()),
      ]);
      const kept = caller.scopes.filter((s) => relevant.has(s) && !required.includes(s));
      return {
        scopes: [...kept, ...required],
        description: `The tool ${params.name} requires the scopes: ${required.join(' ')}.`,
      };
    }
    return undefined;
  }

  private refuse(res: Response, err: unknown, body: unknown): void {
    res.setHeader('Cache-Control', 'no-store');
    if (err instanceof TokenRejectedError) {
      res.setHeader('WWW-Authenticate', this.challenges.forRejection(err.reason));
      return send(
        res,
        401,
        jsonRpcError(JSONRPC_UNAUTHORIZED, `Unauthorized: ${err.message}`, requestIdOf(body)),
      );
    }
    if (err instanceof GrantsUnavailableError) {
      res.setHeader('Retry-After', '5');
      return send(res, 503, jsonRpcError(JSONRPC_SERVER_ERROR, err.message, requestIdOf(body)));
    }
    if (err instanceof KeySetUnavailableError) {
      res.setHeader('Retry-After', '10');
      return send(
        res,
        503,
        jsonRpcError(
          JSONRPC_SERVER_ERROR,
          "The authorization server's signing keys cannot be fetched right now; try again shortly.",
          requestIdOf(body),
        ),
      );
    }
    throw err;
  }
}

/**
 * A direct tools/call's context. Its signal is made when the tool first reads it (most never do:
 * whoami does not), then aborted when the client goes away before the answer, or at once if it
 * already has.
 */
class DirectCallContext implements McpToolContext {
  private controller: AbortController | undefined;
  private done = false;

  constructor(
    private readonly res: Response,
    readonly requestId: string | number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      if (this.res.destroyed && !this.done) controller.abort();
      else
        this.res.once('close', () => {
          if (!this.done) controller.abort();
        });
    }
    return this.controller.signal;
  }

  /** The tool has answered: its signal is no longer aborted. True when nobody is left to answer (the client went away). */
  markAnswered(): boolean {
    this.done = true;
    return this.res.destroyed || this.controller?.signal.aborted === true;
  }
}

/**
 * True for the common case the one-exchange path serves: one JSON-RPC request or notification
 * of the 2025 era (no 2026-07-28 envelope claim, no modern MCP-Protocol-Version header) from a
 * client that accepts JSON. Everything else goes to the SDK's handler, which owns those answers.
 */
function isPlainExchange(req: Request, body: unknown): body is JsonRpcRequestLike {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const message = body as JsonRpcRequestLike;
  if (message.jsonrpc !== '2.0' || typeof message.method !== 'string') return false;
  if (message.id !== undefined && typeof message.id !== 'string' && typeof message.id !== 'number')
    return false;
  if ('result' in message || 'error' in message) return false;
  const params = message.params;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
    return false;
  // The SDK's Server silently drops what its strict schema refuses (an extra top-level key, a
  // fractional id, …): such a message would never be answered here. The SDK handler answers it.
  if (!isJsonRpcMessage(message as unknown as Record<string, unknown>)) return false;
  const meta = params?._meta;
  if (meta && typeof meta === 'object' && PROTOCOL_VERSION_META_KEY in meta) return false;
  const version = req.headers['mcp-protocol-version'];
  if (version !== undefined && !LEGACY_VERSIONS.has(version as string)) return false;
  const accept = req.headers.accept;
  return accept !== undefined && (accept.includes('application/json') || accept.includes('*/*'));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function authInfoFor(caller: McpCaller, settings: McpSettings): AuthInfo {
  return {
    token: '',
    clientId: caller.clientId ?? '',
    scopes: [...caller.scopes],
    expiresAt: caller.expiresAt,
    resourceMetadataUrl: settings.resourceMetadataUrl,
    extra: { caller },
  };
}

const JSON_CONTENT_TYPE = Object.freeze(['Content-Type', 'application/json']);

/** A JSON answer; its Content-Type goes with the status line (on the front door, one header list: preset-headers.ts). */
function send(res: Response, status: number, body: string): void {
  res.writeHead(status, JSON_CONTENT_TYPE as string[]);
  res.end(body);
}
