import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config';

/** Field names whose values never reach a log line, at the top of a log object or one level down. */
const SECRET_FIELDS = [
  'authorization',
  'password',
  'apiKey',
  'api_key',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'code_verifier',
  'secret',
  'externalAuthId',
  'external_auth_id',
];

/** Header, cookie and field names whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
];

/**
 * A query parameter's value (or a fragment) in a URL, wherever it appears: in a request line, a
 * `Location` header, or the text of a message. Stops at a quote or a backslash, so that it never
 * crosses the end of a JSON string.
 */
const QUERY_VALUE = /([?&][^=&#\s"\\]{1,100}=)(?!\[Redacted\])[^&#\s"\\]+/g;
const FRAGMENT = /(https?:\/\/[^\s"\\#]*)#[^\s"\\]+/g;

/**
 * Masks every query value (and any fragment) of a URL before it is logged. Names stay: they say
 * what a request was. Values never do: one may continue or complete a sign-in (external_auth_id,
 * the `tx` of a resume, a `return_to` that holds one, a completion's ticket, a code, a token),
 * and a list of the dangerous names is one forgotten name away from a leak.
 */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(FRAGMENT, '$1#[Redacted]').replace(QUERY_VALUE, '$1[Redacted]');
}

/**
 * Secrets in free text, as the last step before a line is written (pino's streamWrite hook):
 * URLs inside messages and error texts, bearer tokens, JWTs, the bridge's cookies (a transaction
 * cookie's very name holds the transaction id). The serializers keep secrets out in the first
 * place; this catches what a message or an error from a library may carry.
 */
const TEXT_SECRETS: Array<[RegExp, string]> = [
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, '$1[Redacted]'],
  [/\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, '[Redacted]'],
  [/\b(cbridge_[A-Za-z0-9_-]+=)[^;\s"\\]+/g, '$1[Redacted]'],
  [/\b(cbridge_tx_)[A-Za-z0-9_-]+/g, '$1[Redacted]'],
];

export function scrubLine(line: string): string {
  if (!mayHoldSecret(line)) return line;
  let out = redactUrl(line)!;
  for (const [pattern, replacement] of TEXT_SECRETS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * False when no pattern of scrubLine can match: no `?`, `&` or `#` (a query value, a fragment), no
 * `Bearer`, no `eyJ` (a JWT), no `cbridge_` (a cookie). Most lines (every access line of a plain
 * route) are such; a few substring searches cost less than the six regular expressions.
 */
function mayHoldSecret(line: string): boolean {
  return (
    line.includes('?') ||
    line.includes('&') ||
    line.includes('#') ||
    line.includes('Bearer') ||
    line.includes('eyJ') ||
    line.includes('cbridge_')
  );
}

/**
 * What the request log line shows of a response: its status, and where a redirect goes with
 * every query value masked. Never the other headers (Set-Cookie, and whatever a route adds).
 */
export function serializeResponse(res: { statusCode: number | null; headers?: Record<string, unknown> }): {
  statusCode: number | null;
  location?: string;
} {
  const location = res.headers?.location;
  return {
    statusCode: res.statusCode,
    ...(typeof location === 'string' && { location: redactUrl(location) }),
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** The route pattern a request matched (`/admin/grants/:id`), else its path with query values masked. */
function routeOf(req: IncomingMessage): string {
  const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string; originalUrl?: string };
  const path = r.route?.path;
  if (typeof path === 'string' && !path.includes('*')) return `${r.baseUrl ?? ''}${path}`;
  return redactUrl((r.originalUrl ?? req.url ?? '').split('?')[0]) ?? '';
}

/** The fields of the access line. Never a header, a cookie or a query value. */
export function accessFields(
  req: IncomingMessage,
  res: ServerResponse,
  responseTime: number,
  route: string = routeOf(req),
): Record<string, unknown> {
  const clientId = (res as ServerResponse & { locals?: { clientId?: unknown } }).locals?.clientId;
  const location = res.getHeader('location');
  return {
    method: req.method,
    route,
    status: res.statusCode,
    ms: responseTime,
    ...(typeof clientId === 'string' && { clientId }),
    ...(typeof location === 'string' && { location: redactUrl(location) }),
  };
}

/** The message of the access line: `POST /mcp 200 3ms`. */
export function accessLine(
  req: IncomingMessage,
  res: ServerResponse,
  responseTime: number,
  route: string = routeOf(req),
): string {
  return `${req.method} ${route} ${res.statusCode} ${responseTime}ms`;
}

/**
 * The level of the access line: errors and 5xx at `error`, 4xx at `warn`, the rest at `info`;
 * successful /mcp calls sampled by LOG_SAMPLE_MCP_SUCCESS (`silent`: not written; /metrics keeps
 * exact counts).
 */
export function accessLevel(
  route: string,
  status: number,
  err: unknown,
  sample: number,
): 'error' | 'warn' | 'info' | 'silent' {
  if (err || status >= 500) return 'error';
  if (status >= 400) return 'warn';
  if (sample < 1 && route === '/mcp' && Math.random() >= sample) return 'silent';
  return 'info';
}

/**
 * The request id of a request: its `X-Request-Id` when that is a plain token of at most 100
 * characters (a proxy's id), else a new UUID. Echoed in the response's `X-Request-Id`.
 */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdOf(req);
  res.setHeader('X-Request-Id', id);
  return id;
}

/** The request id of a request (see requestIdFor), for a caller that writes the header itself. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The service's root logger (its level, redaction and last scrub), for code outside pino-http. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
/** The root logger's twin for access lines of fixed fields (no redaction paths; same scrub, level and destination). */
export const ACCESS_LOGGER = Symbol('ACCESS_LOGGER');

/**
 * Where lines go when no stream is given: stdout as JSON (production, containers, log shippers),
 * or, with LOG_FORMAT=pretty (the default under NODE_ENV=development), one short human line
 * each: time, level, `[context] message` or `METHOD /path status duration`, coloured on a
 * terminal. Written synchronously so that the demo's banner, printed last, stays last.
 */
function destinationOf(config: AppConfig, stream?: DestinationStream): DestinationStream[] {
  const destination = stream ?? consoleDestination(config);
  return destination ? [destination] : [];
}

function consoleDestination(config: AppConfig): DestinationStream | undefined {
  if (config.logFormat !== 'pretty') return undefined;
  return pretty({
    sync: true,
    colorize: Boolean(process.stdout.isTTY),
    translateTime: 'SYS:HH:MM:ss',
    singleLine: true,
    hideObject: true,
    ignore: 'pid,hostname',
    messageFormat: (log) => {
      const context = typeof log.context === 'string' ? `[${log.context}] ` : '';
      const err = log.err as { message?: string } | undefined;
      return `${context}${String(log.msg ?? '')}${err?.message ? `: ${err.message}` : ''}`;
    },
  });
}

/**
 * The logger of the very first lines (the start-up mode and its warnings), written before the
 * application exists: the service's format, context and redaction, at `info` whatever LOG_LEVEL
 * says (one line at start is worth having), nothing when LOG_LEVEL=silent.
 */
export function startupLogger(config: AppConfig, stream?: DestinationStream): Logger {
  const root = pino(
    {
      level: config.logLevel === 'silent' ? 'silent' : 'info',
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      hooks: { streamWrite: scrubLine },
    },
    ...(destinationOf(config, stream) as []),
  );
  return root.child({ context: 'Startup' });
}

/** The newest service logger writing to stdout (the one of a running server), for flushLogs(). */
let stdoutLogger: Logger | undefined;

/**
 * Resolves once the service logger has written out every line (at most `timeoutMs`). Pino writes
 * to stdout asynchronously and in batches (sonic-boom, see STDOUT_BATCH), so lines logged just
 * before a process ends by a signal would be lost: a write in progress is awaited (its 'drain'),
 * then what is still buffered is written at once.
 */
export function flushLogs(timeoutMs = 1000): Promise<void> {
  const stream = (stdoutLogger as unknown as Record<symbol, unknown> | undefined)?.[
    pino.symbols.streamSym
  ] as
    | {
        _writing?: boolean;
        destroyed?: boolean;
        once?: (event: 'drain', listener: () => void) => void;
        flushSync?: () => void;
      }
    | undefined;
  const writeRest = () => {
    try {
      if (!stream?.destroyed) stream?.flushSync?.();
    } catch {
      // Nothing more can be done for the last lines (stdout closed, or not opened yet).
    }
  };
  return new Promise((resolve) => {
    if (!stream?._writing || typeof stream.once !== 'function') {
      writeRest();
      return resolve();
    }
    const timer = setTimeout(resolve, timeoutMs);
    stream.once('drain', () => {
      clearTimeout(timer);
      writeRest();
      resolve();
    });
  });
}

/**
 * How lines reach stdout: asynchronously, in writes of at least 4 KiB and at least every 100 ms
 * (pino's asynchronous logging, docs/asynchronous.md). A write per line costs a round trip through
 * libuv's thread pool, ~40 µs of CPU per request at 10 connections when every call writes an
 * access line (bench/PROFILING.md); batched, a few dozen lines share one. On exit pino writes what
 * is buffered (flushSync), as does flushLogs() on a graceful stop; a crash that kills the process
 * outright (SIGKILL, the kernel's OOM killer) loses at most the last 100 ms of lines.
 */
export const STDOUT_BATCH = { minLength: 4096, periodicFlush: 100 } as const;

export function loggerModule(config: AppConfig, stream?: DestinationStream) {
  // One destination for both loggers below (stdout: asynchronous and batched, STDOUT_BATCH).
  const destination =
    destinationOf(config, stream)[0] ??
    pino.destination({ dest: process.stdout.fd || 1, sync: false, ...STDOUT_BATCH });
  const root = pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      hooks: { streamWrite: scrubLine },
    },
    destination,
  );
  // The access lines of the MCP front door: fields it builds itself (method, route, status, ms,
  // reqId, clientId, location), none of them a secret's name, so the redaction paths (a walk of
  // every object logged, ~5% of a call) have nothing to do; the last scrub of the line still runs.
  const access = pino({ level: config.logLevel, hooks: { streamWrite: scrubLine } }, destination);
  if (!stream) stdoutLogger = root;
  deferRequestBindings(root);
  const module = LoggerModule.forRoot({
    pinoHttp: {
      logger: root,
      genReqId: requestIdFor,
      // One short line per request: the request's own lines carry only its id (reqId); the
      // access line says method, route pattern, status, duration and the MCP client where known.
      quietReqLogger: true,
      quietResLogger: true,
      customSuccessObject: (req: IncomingMessage, res: ServerResponse, val: { responseTime: number }) =>
        accessFields(req, res, val.responseTime),
      customErrorObject: (
        req: IncomingMessage,
        res: ServerResponse,
        err: Error,
        val: { responseTime: number },
      ) => ({
        ...accessFields(req, res, val.responseTime),
        err,
      }),
      customSuccessMessage: (req: IncomingMessage, res: ServerResponse, responseTime: number) =>
        accessLine(req, res, responseTime),
      customErrorMessage: (req: IncomingMessage, res: ServerResponse) =>
        `${req.method} ${routeOf(req)} ${res.statusCode}`,
      customLogLevel: (req: IncomingMessage, res: ServerResponse, err: Error | undefined) =>
        accessLevel(routeOf(req), res.statusCode, err, config.logSampleMcpSuccess),
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/metrics' },
    } satisfies Options,
  });
  // LoggerModule is global: ROOT_LOGGER is injectable everywhere, like PinoLogger.
  return {
    ...module,
    providers: [
      ...(module.providers ?? []),
      { provide: ROOT_LOGGER, useValue: root },
      { provide: ACCESS_LOGGER, useValue: access },
    ],
    exports: [...(module.exports ?? []), ROOT_LOGGER, ACCESS_LOGGER],
  };
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/**
 * pino-http gives every request a child logger bound to the serialized, redacted request (or, with
 * quietReqLogger, to its `reqId`), and pino builds child bindings eagerly: ~30 µs a request even when nothing is ever logged for it
 * (every 2xx at LOG_LEVEL=warn). Here that child is built on first use instead: a call at a level
 * that is off is a no-op, anything else builds the real child and forwards to it, so what is
 * written does not change.
 */
export function deferRequestBindings(root: Logger): void {
  const child = root.child as unknown as ChildFn;
  const deferred: ChildFn = function (bindings, options) {
    if (options !== undefined || !bindings || !('req' in bindings || isRequestIdOnly(bindings)))
      return child.call(this, bindings, options);
    return lazyChild(this, () => child.call(this, bindings));
  };
  root.child = deferred as unknown as Logger['child'];
}

/** `{ reqId }`: the binding of a request's own logger (pino-http's quietReqLogger, the MCP front door). */
function isRequestIdOnly(bindings: Record<string, unknown>): boolean {
  for (const key in bindings) if (key !== 'reqId') return false;
  return 'reqId' in bindings;
}

type ChildFn = (this: Logger, bindings: Record<string, unknown>, options?: object) => Logger;

function lazyChild(parent: Logger, build: () => Logger): Logger {
  let real: Logger | undefined;
  const materialize = (): Logger => (real ??= build());
  return new Proxy({} as Logger, {
    get(_target, key) {
      if (real === undefined && typeof key === 'string') {
        if (LEVELS.has(key) && !parent.isLevelEnabled(key)) return noop;
        if (key === 'isLevelEnabled') return (level: string) => parent.isLevelEnabled(level);
      }
      const logger = materialize();
      const value: unknown = Reflect.get(logger, key, logger);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(logger) : value;
    },
    set: (_target, key, value) => Reflect.set(materialize(), key, value),
    has: (_target, key) => Reflect.has(materialize(), key),
  });
}
