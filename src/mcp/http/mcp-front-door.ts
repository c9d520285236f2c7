import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { securityHeaderList } from '../../common/security-headers';
import type { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import {
  ACCESS_LOGGER,
  accessFields,
  accessLevel,
  accessLine,
  requestIdOf,
  ROOT_LOGGER,
} from '../../logging/logging.module';
import { MetricsService } from '../../metrics/metrics.service';
import { McpEndpointService } from '../protocol/mcp-endpoint.service';
import { JSONRPC_INTERNAL_ERROR, jsonRpcError } from './challenges';
import { UpstreamProxyService } from '../proxy/upstream-proxy.service';
import { JSON_BODY_LIMIT_BYTES, keepBodyError, MCP_PATH } from './deferred-body-error';
import { HeaderPreset, presetHeaders } from './preset-headers';

/** `application/json`, optionally `; charset=utf-8`: the Content-Type of every MCP client. */
const PLAIN_JSON = /^application\/json[ \t]*(?:;[ \t]*charset=(?:utf-8|"utf-8")[ \t]*)?$/i;
const FIRST_CHAR = /^[ \t\n\r]*([^ \t\n\r])/;

/**
 * The MCP endpoint's front door: the common `POST /mcp` (a JSON body of known length, no
 * Content-Encoding, not in proxy mode, not while draining) is taken off the HTTP server before
 * Express sees it, and handed to the same McpEndpointService the MCP controller calls. Every
 * other request, /mcp ones included, goes through Express unchanged.
 *
 * It does what the Express chain does for such a request, each with the same code or the same
 * settings: the security headers (helmet's, computed once at boot), the request id, the body read
 * as express.json reads it (same limit, same empty-body and strict-first-character rules, same
 * error shapes, answered by the endpoint after the token check), the request's log context (its
 * `reqId`), the access line (same fields, level and sampling) and the HTTP metrics (same labels).
 * What it skips is the cost of the general machinery: Express's router and middleware chain,
 * Nest's route context, helmet per request, body-parser's content negotiation, pino-http's
 * per-request loggers. test/mcp/front-door.e2e.ts holds the two paths' answers, headers and log
 * lines to each other.
 */
@Injectable()
export class McpFrontDoor {
  /** The headers of every answer: helmet's, computed once at boot, and Vary. */
  readonly preset: HeaderPreset;
  private readonly sample: number;
  /** MCP calls share each turn of the event loop with everything else (see TurnBudget). */
  private readonly turns = new TurnBudget<FrontDoorCall>(MCP_CALLS_PER_TURN, (call) => call.start());

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly endpoint: McpEndpointService,
    private readonly proxy: UpstreamProxyService,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) private readonly log: Logger,
    @Inject(ACCESS_LOGGER) private readonly accessLog: Logger,
    private readonly context: PinoLogger,
  ) {
    const headers = securityHeaderList({ https: config.publicUrl.startsWith('https://') });
    // Every answer at /mcp varies by Origin (McpOriginPolicy, first on every request).
    this.preset = new HeaderPreset([...headers.flat(), 'Vary', 'Origin']);
    this.sample = config.logSampleMcpSuccess;
  }

  /** True when the front door answers this request; false when it is Express's. */
  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || req.url !== MCP_PATH || this.proxy.enabled) return false;
    const headers = req.headers;
    const type = headers['content-type'];
    if (type === undefined || !PLAIN_JSON.test(type)) return false;
    if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    const length = Number(headers['content-length']);
    if (!(length <= JSON_BODY_LIMIT_BYTES)) return false;
    // Timed from here: the wait for a turn is part of the answer's duration (metrics, access line).
    this.turns.run(new FrontDoorCall(this, req, res, performance.now()));
    return true;
  }

  /** The call's body has been read (or could not be): the endpoint answers it. */
  async answer(call: FrontDoorCall, body: Buffer | Error): Promise<void> {
    const { req, res, reqId } = call;
    if (body instanceof Error) keepBodyError(req, body);
    else {
      try {
        (req as IncomingMessage & { body?: unknown }).body = parseJsonBody(body);
      } catch (err) {
        keepBodyError(req, err);
      }
    }
    try {
      await this.context.runInContext(() => this.endpoint.handle(req as Request, res as Response), {
        bindings: { reqId },
      });
    } catch (err) {
      // The endpoint answers its own failures; this is the net under it (no unhandled rejection),
      // answered as the endpoint answers one.
      this.log.error({ err, reqId }, 'MCP request failed');
      if (res.headersSent) res.destroy();
      else {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json');
        res.end(jsonRpcError(JSONRPC_INTERNAL_ERROR, 'Internal error'));
      }
    }
  }

  /** The response has closed: the access line and the HTTP metrics, as pino-http and MetricsMiddleware write them. */
  finished(call: FrontDoorCall): void {
    const { req, res, reqId } = call;
    const status = res.statusCode;
    const elapsedMs = performance.now() - call.started;
    // MetricsMiddleware counts answers that finished (not connections closed before the answer).
    if (res.writableFinished) this.metrics.observe('POST', MCP_PATH, status, elapsedMs / 1e3);
    const level = accessLevel(MCP_PATH, status, undefined, this.sample);
    if (level === 'silent' || !this.log.isLevelEnabled(level)) return;
    // Whole milliseconds, as pino-http writes them.
    const ms = Math.round(elapsedMs);
    const fields = { reqId, ...accessFields(req, res, ms, MCP_PATH) };
    if (status >= 500) {
      // As pino-http writes it (an error for the status), through the redacting logger.
      const err = new Error(`failed with status code ${status}`);
      this.log[level]({ ...fields, err }, `POST ${MCP_PATH} ${status}`);
    } else {
      this.accessLog[level](fields, accessLine(req, res, ms, MCP_PATH));
    }
  }
}

const CALL = Symbol('connect-bridge.frontDoorCall');
type WithCall = { [CALL]: FrontDoorCall };

/**
 * One request through the front door, from its turn to its access line. The request and the
 * response carry it, and listeners shared by every call advance it: a call costs this object, not
 * a promise and a closure per step (allocation per call is what the heap flags of the container
 * image make expensive, docs/operations.md "Memory").
 */
class FrontDoorCall {
  readonly reqId: string;
  private first: Buffer | undefined;
  private rest: Buffer[] | undefined;
  private size = 0;
  private read = false;

  constructor(
    private readonly door: McpFrontDoor,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly started: number,
  ) {
    this.reqId = requestIdOf(req);
  }

  /** Its turn: the preset headers, then the body (its length is known and within the limit: take() checked). */
  start(): void {
    const { req, res } = this;
    presetHeaders(res, this.door.preset, this.reqId);
    (res as ServerResponse & { locals: Record<string, unknown> }).locals = {};
    (req as IncomingMessage & WithCall)[CALL] = this;
    (res as ServerResponse & WithCall)[CALL] = this;
    res.on('close', onResponseClose);
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
    req.on('error', onRequestAborted);
    req.on('close', onRequestAborted);
  }

  data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.first === undefined) this.first = chunk;
    else (this.rest ??= [this.first]).push(chunk);
  }

  ended(): void {
    if (this.read) return;
    this.read = true;
    const body = this.rest ? Buffer.concat(this.rest, this.size) : (this.first ?? EMPTY);
    void this.door.answer(this, body);
  }

  aborted(): void {
    if (this.read) return;
    this.read = true;
    void this.door.answer(
      this,
      Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 }),
    );
  }

  closed(): void {
    this.door.finished(this);
  }
}

const EMPTY = Buffer.alloc(0);

function onRequestData(this: IncomingMessage, chunk: Buffer): void {
  (this as IncomingMessage & WithCall)[CALL].data(chunk);
}
function onRequestEnd(this: IncomingMessage): void {
  (this as IncomingMessage & WithCall)[CALL].ended();
}
function onRequestAborted(this: IncomingMessage): void {
  (this as IncomingMessage & WithCall)[CALL].aborted();
}
function onResponseClose(this: ServerResponse): void {
  (this as ServerResponse & WithCall)[CALL].closed();
}

/**
 * At most this many MCP calls start per turn of the event loop; the rest wait for the next turns,
 * in arrival order. Under a flood of MCP traffic a turn otherwise holds one call per busy
 * connection (100 connections: ~10 ms of work), and every step of a sign-in in progress (a
 * database answer, the legacy app's answer, the browser's next request) waits a whole turn. With
 * a budget, a turn is ~1 ms of MCP work and the sign-in's steps get their turn in between
 * (docs/performance.md, sign-ins under load: with the budget and fewer statements per sign-in, 1.5-1.6× the idle median instead of 14.6-16.9×).
 */
export const MCP_CALLS_PER_TURN = 12;

/**
 * Starts at most `perTurn` jobs per turn of the event loop, the rest in later turns in arrival
 * order (a turn: from one check phase to the next, so the poll phase, where every other socket
 * and the database are served, comes between any two batches).
 */
export class TurnBudget<T> {
  private started = 0;
  private readonly waiting: T[] = [];
  private scheduled = false;

  constructor(
    private readonly perTurn: number,
    private readonly start: (job: T) => void,
  ) {}

  run(job: T): void {
    if (this.waiting.length === 0 && this.started < this.perTurn) {
      this.started++;
      this.schedule();
      this.start(job);
      return;
    }
    this.waiting.push(job);
    this.schedule();
  }

  /** Jobs waiting for a later turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.nextTurn);
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.started = 0;
    let n = Math.min(this.perTurn, this.waiting.length);
    if (n > 0) this.schedule();
    while (n-- > 0) {
      this.started++;
      this.start(this.waiting.shift()!);
    }
  };
}

/**
 * A JSON body as express.json reads it (strict, UTF-8): an empty body is `{}`, a byte-order mark
 * is dropped, anything that does not start with `{` or `[` or does not parse is refused with
 * body-parser's error shape (`type: 'entity.parse.failed'`, the text in `body`).
 */
export function parseJsonBody(buffer: Buffer): unknown {
  if (buffer.length === 0) return {};
  let text = buffer.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = text[0] === '{' || text[0] === '[' ? text[0] : FIRST_CHAR.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw parseFailed(text);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw parseFailed(text);
  }
}

function parseFailed(body: string): Error {
  return Object.assign(new SyntaxError('the body is not a JSON object or array'), {
    type: 'entity.parse.failed',
    status: 400,
    body,
  });
}
