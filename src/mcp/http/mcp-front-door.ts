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
  requestIdFor,
  ROOT_LOGGER,
} from '../../logging/logging.module';
import { MetricsService } from '../../metrics/metrics.service';
import { McpEndpointService } from '../protocol/mcp-endpoint.service';
import { JSONRPC_INTERNAL_ERROR, jsonRpcError } from './challenges';
import { UpstreamProxyService } from '../proxy/upstream-proxy.service';
import { JSON_BODY_LIMIT_BYTES, keepBodyError, MCP_PATH } from './deferred-body-error';

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
  private readonly headers: ReadonlyArray<readonly [string, string]>;
  private readonly sample: number;
  /** MCP calls share each turn of the event loop with everything else (see TurnBudget). */
  private readonly turns = new TurnBudget(MCP_CALLS_PER_TURN);

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly endpoint: McpEndpointService,
    private readonly proxy: UpstreamProxyService,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) private readonly log: Logger,
    @Inject(ACCESS_LOGGER) private readonly accessLog: Logger,
    private readonly context: PinoLogger,
  ) {
    this.headers = securityHeaderList({ https: config.publicUrl.startsWith('https://') });
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
    const started = process.hrtime.bigint();
    this.turns.run(() => void this.serve(req, res, started));
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, started: bigint): Promise<void> {
    for (const [name, value] of this.headers) res.setHeader(name, value);
    const reqId = requestIdFor(req, res);
    (res as ServerResponse & { locals: Record<string, unknown> }).locals = {};
    res.once('close', () => this.finished(req, res, reqId, started));
    try {
      (req as IncomingMessage & { body?: unknown }).body = parseJsonBody(await readBody(req));
    } catch (err) {
      keepBodyError(req, err);
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

  /** The access line and the HTTP metrics, as pino-http and MetricsMiddleware write them. */
  private finished(req: IncomingMessage, res: ServerResponse, reqId: string, started: bigint): void {
    const status = res.statusCode;
    const elapsedNs = Number(process.hrtime.bigint() - started);
    // MetricsMiddleware counts answers that finished (not connections closed before the answer).
    if (res.writableFinished) this.metrics.observe('POST', MCP_PATH, status, elapsedNs / 1e9);
    const level = accessLevel(MCP_PATH, status, undefined, this.sample);
    if (level === 'silent' || !this.log.isLevelEnabled(level)) return;
    // Whole milliseconds, as pino-http writes them.
    const ms = Math.round(elapsedNs / 1e6);
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
 * Runs at most `perTurn` jobs per turn of the event loop, the rest in later turns in arrival
 * order (a turn: from one check phase to the next, so the poll phase, where every other socket
 * and the database are served, comes between any two batches).
 */
export class TurnBudget {
  private started = 0;
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  run(job: () => void): void {
    if (this.waiting.length === 0 && this.started < this.perTurn) {
      this.started++;
      this.schedule();
      job();
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
      this.waiting.shift()!();
    }
  };
}

/** The request's body (its length is known and within the limit: take() checked). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    });
    req.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    const aborted = () => {
      if (ended) return;
      ended = true;
      reject(Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 }));
    };
    req.once('error', aborted);
    req.once('close', aborted);
  });
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
