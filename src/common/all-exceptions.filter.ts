import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isDatabaseUnavailable } from '../database/prisma-errors';
import { DomainError } from './errors';
import { escapeHtml, renderPage } from './html';

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string };
}

const statusCodes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  503: 'service_unavailable',
};

/** Turns anything thrown into the one error shape; never lets a stack trace reach a client. */
export function describeError(err: unknown, req: Request): { status: number; code: string; message: string } {
  if (err instanceof DomainError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const response = err.getResponse();
    let message =
      typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? err.message);
    if (Array.isArray(message)) message = message.join('; ');
    if (status === 404 && /^Cannot (GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)/.test(String(message))) {
      message = `There is nothing at ${req.method} ${req.path}.`;
    }
    return { status, code: statusCodes[status] ?? `http_${status}`, message: String(message) };
  }
  const e = err as {
    status?: number;
    statusCode?: number;
    type?: string;
    expose?: boolean;
    message?: string;
  };
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser and other express middleware errors (malformed JSON, body too large, …)
    const message =
      e.type === 'entity.parse.failed'
        ? 'The request body is not valid JSON.'
        : e.type === 'entity.too.large'
          ? 'The request body is too large.'
          : e.expose && e.message
            ? e.message
            : 'The request could not be understood.';
    return { status, code: statusCodes[status] ?? `http_${status}`, message };
  }
  if (isDatabaseUnavailable(err)) {
    // The database is down or restarting: a clean 503 the client may retry, not a 500.
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      code: 'database_unavailable',
      message: 'The service is briefly unavailable. Please try again in a moment.',
    };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    code: 'internal_error',
    message: 'Something went wrong on our side. It has been logged; please try again.',
  };
}

/** True when the client is a browser that wants a page rather than JSON. */
export function wantsHtml(req: Request): boolean {
  const accept = req.headers.accept ?? '';
  return /text\/html/.test(accept) && !/application\/json/.test(accept.split(',')[0] ?? '');
}

export function sendError(err: unknown, req: Request, res: Response, logger: Logger): void {
  const { status, code, message } = describeError(err, req);
  const requestId = String((req as { id?: unknown }).id ?? '');
  if (status >= 500) {
    logger.error({ err, code, requestId }, 'request failed');
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).setHeader('Cache-Control', 'no-store');
  if (status === 503 && !res.getHeader('Retry-After')) res.setHeader('Retry-After', '5');
  if (wantsHtml(req)) {
    res.type('html').send(
      renderPage({
        title:
          status === 503
            ? 'Temporarily unavailable'
            : status >= 500
              ? 'Something went wrong'
              : status === 404
                ? 'Page not found'
                : 'That did not work',
        body: `<p>${escapeHtml(message)}</p>${requestId ? `<p><small>Reference: <code>${escapeHtml(requestId)}</code></small></p>` : ''}`,
      }),
    );
    return;
  }
  const body: ErrorBody = {
    error: { code, message, ...(status >= 500 && requestId ? { request_id: requestId } : {}) },
  };
  res.json(body);
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    sendError(exception, ctx.getRequest<Request>(), ctx.getResponse<Response>(), this.logger);
  }
}
