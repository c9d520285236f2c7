import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';
import { JSONRPC_SERVER_ERROR, jsonRpcError } from './challenges';
import { setHeaderUnlessPreset } from './preset-headers';

/** Response headers a browser client must be able to read. */
export const EXPOSED_HEADERS = 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version';
const MCP_REQUEST_HEADERS =
  'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID';

/**
 * The Origin check and CORS of the MCP endpoint (DNS-rebinding defence, MCP transport spec),
 * applied by McpEndpointService to every request the router hands to the MCP controller, first:
 * a request with an `Origin` header is refused with 403 unless the origin is the bridge's own or
 * listed in MCP_ALLOWED_ORIGINS; requests without one (every non-browser client) pass. Allowed
 * origins get CORS with the MCP headers exposed, and their preflight is answered here. No
 * credentials are involved: tokens travel in the Authorization header only.
 *
 * It is applied where the request is handled, never by comparing path strings: whatever reaches
 * the MCP endpoint is checked, whatever the spelling of its path (routing is strict anyway, see
 * src/bootstrap.ts).
 */
@Injectable()
export class McpOriginPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(@Inject(MCP_SETTINGS) settings: McpSettings) {
    this.anyOrigin = settings.allowedOrigins.includes('*');
    this.origins = new Set([settings.publicOrigin, ...settings.allowedOrigins.map(normalizeOrigin)]);
  }

  allows(origin: string): boolean {
    return this.anyOrigin || this.origins.has(normalizeOrigin(origin));
  }

  /**
   * True when the request may go on. False when it has been answered: a foreign Origin (403,
   * a JSON-RPC error) or a CORS preflight (204).
   */
  admit(req: Request, res: Response): boolean {
    const origin = req.headers.origin;
    // On the front door's answers, part of their preset headers (src/mcp/http/mcp-front-door.ts).
    setHeaderUnlessPreset(res, 'Vary', 'Origin');
    if (origin !== undefined) {
      if (!this.allows(origin)) {
        res.statusCode = 403;
        res.setHeader('Content-Type', 'application/json');
        res.end(jsonRpcError(JSONRPC_SERVER_ERROR, 'Forbidden: this origin may not call the MCP endpoint.'));
        return false;
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader(
        'Access-Control-Allow-Headers',
        [MCP_REQUEST_HEADERS, ...askedParamHeaders(req)].join(', '),
      );
      res.setHeader('Access-Control-Max-Age', '86400');
      res.statusCode = 204;
      res.end();
      return false;
    }
    return true;
  }
}

/** The `Mcp-Param-{Name}` headers (SEP-2243) a preflight asks for: names vary by tool, so they are echoed. */
function askedParamHeaders(req: Request): string[] {
  const asked = req.headers['access-control-request-headers'];
  if (typeof asked !== 'string' || asked.length > 2000) return [];
  return asked
    .split(',')
    .map((name) => name.trim())
    .filter((name) => /^mcp-param-[!#$%&'*+.^_`|~0-9a-z-]{1,100}$/i.test(name))
    .slice(0, 50);
}

/**
 * CORS for the public documents (the metadata under /.well-known, /docs/mcp): any origin may read
 * them. Called by the handlers of those documents; true when the request was a preflight, now
 * answered.
 */
export function allowAnyOrigin(req: Request, res: Response): boolean {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  if (req.method !== 'OPTIONS') return false;
  res.setHeader('Access-Control-Allow-Methods', 'GET, OPTIONS');
  const asked = req.headers['access-control-request-headers'];
  res.setHeader(
    'Access-Control-Allow-Headers',
    typeof asked === 'string' && /^[\w ,-]{1,500}$/.test(asked) ? asked : MCP_REQUEST_HEADERS,
  );
  res.setHeader('Access-Control-Max-Age', '86400');
  res.statusCode = 204;
  res.end();
  return true;
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
