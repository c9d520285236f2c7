import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger } from 'pino';
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

const SECRET_QUERY =
  /([?&](?:external_auth_id|code|token|access_token|refresh_token|state|code_verifier)=)[^&#]*/gi;

/** Masks secret-bearing query parameters in a URL before it is logged. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, '$1[Redacted]');
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function loggerModule(config: AppConfig, stream?: DestinationStream) {
  const root = pino(
    { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[Redacted]' } },
    ...((stream ? [stream] : []) as []),
  );
  deferRequestBindings(root);
  return LoggerModule.forRoot({
    pinoHttp: {
      logger: root,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      serializers: {
        req: (req: {
          id: unknown;
          method: string;
          url: string;
          headers: Record<string, unknown>;
          remoteAddress?: string;
        }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          userAgent: req.headers['user-agent'],
          remoteAddress: req.remoteAddress,
        }),
      },
      customLogLevel: (_req: IncomingMessage, res: ServerResponse, err: Error | undefined) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/metrics' },
    } satisfies Options,
  });
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/**
 * pino-http gives every request a child logger bound to the serialized, redacted request, and
 * pino builds child bindings eagerly: ~30 µs a request even when nothing is ever logged for it
 * (every 2xx at LOG_LEVEL=warn). Here that child is built on first use instead: a call at a level
 * that is off is a no-op, anything else builds the real child and forwards to it, so what is
 * written does not change.
 */
export function deferRequestBindings(root: Logger): void {
  const child = root.child as unknown as ChildFn;
  const deferred: ChildFn = function (bindings, options) {
    if (options !== undefined || !bindings || !('req' in bindings))
      return child.call(this, bindings, options);
    return lazyChild(this, () => child.call(this, bindings));
  };
  root.child = deferred as unknown as Logger['child'];
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
