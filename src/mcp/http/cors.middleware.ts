import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { JSONRPC_SERVER_ERROR, jsonRpcError } from './challenges';

/** Response headers a browser client must be able to read. */
export const EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version';
const MCP_REQUEST_HEADERS =
  'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID';

/**
 * Origin check and CORS for /mcp, CORS for the public documents (/.well-known/*, /docs/mcp).
 *
 * /mcp (DNS-rebinding defence, MCP transport spec): a request with an `Origin` header is refused
 * with 403 unless the origin is the bridge's own or listed in MCP_ALLOWED_ORIGINS; requests
 * without one (every non-browser client) pass. Allowed origins get CORS with the MCP headers
 * exposed. No credentials are involved: tokens travel in the Authorization header only.
 *
 * The metadata documents are public: any origin may read them.
 */
@Injectable()
export class McpCorsMiddleware implements NestMiddleware {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(@Inject(MCP_SETTINGS) settings: McpSettings) {
    this.anyOrigin = settings.allowedOrigins.includes('*');
    this.origins = new Set([settings.publicOrigin, ...settings.allowedOrigins.map(normalizeOrigin)]);
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // Mounted with app.use(path) or on a route: originalUrl is the full path either way.
    const url = req.originalUrl;
    const end = url.indexOf('?');
    const path = end < 0 ? url : url.slice(0, end);
    if (path === '/mcp' || path === '/mcp/') this.mcp(req, res, next);
    else this.publicDocument(req, res, next);
  }

  allows(origin: string): boolean {
    return this.anyOrigin || this.origins.has(normalizeOrigin(origin));
  }

  private mcp(req: Request, res: Response, next: NextFunction): void {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin !== undefined) {
      if (!this.allows(origin)) {
        res.status(403).setHeader('Content-Type', 'application/json');
        res.end(jsonRpcError(JSONRPC_SERVER_ERROR, 'Forbidden: this origin may not call the MCP endpoint.'));
        return;
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', MCP_REQUEST_HEADERS);
      res.setHeader('Access-Control-Max-Age', '86400');
      res.status(204).end();
      return;
    }
    next();
  }

  private publicDocument(req: Request, res: Response, next: NextFunction): void {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, OPTIONS');
      const asked = req.headers['access-control-request-headers'];
      res.setHeader(
        'Access-Control-Allow-Headers',
        typeof asked === 'string' && /^[\w ,-]{1,500}$/.test(asked) ? asked : MCP_REQUEST_HEADERS,
      );
      res.setHeader('Access-Control-Max-Age', '86400');
      res.status(204).end();
      return;
    }
    next();
  }
}

/** `https://App.example.com:443` and `https://app.example.com` are the same origin. */
export function normalizeOrigin(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === 'null' ? origin : url.origin;
  } catch {
    return origin;
  }
}
