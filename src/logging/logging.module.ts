import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config';

/** Header, cookie and field names whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.password',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.refresh_token',
  '*.code_verifier',
  '*.secret',
  '*.externalAuthId',
  '*.external_auth_id',
];

const SECRET_QUERY =
  /([?&](?:external_auth_id|code|token|access_token|refresh_token|state|code_verifier)=)[^&#]*/gi;

/** Masks secret-bearing query parameters in a URL before it is logged. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, '$1[Redacted]');
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export function loggerModule(config: AppConfig, stream?: DestinationStream) {
  return LoggerModule.forRoot({
    pinoHttp: [
      {
        level: config.logLevel,
        redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
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
      ...(stream ? [stream] : []),
    ] as never,
  });
}
