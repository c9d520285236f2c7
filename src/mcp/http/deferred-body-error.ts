import type { Request } from 'express';
import { JSONRPC_INVALID_REQUEST, JSONRPC_PARSE_ERROR } from './challenges';

const BODY_ERROR = Symbol('mcp.bodyError');

type WithBodyError = Request & { [BODY_ERROR]?: unknown };

/** The one path of the MCP endpoint (routing is strict and case-sensitive: src/bootstrap.ts). */
export const MCP_PATH = '/mcp';

/**
 * The global body parser hands a body it could not read on /mcp to the MCP endpoint instead of
 * answering it in the service's error shape: /mcp speaks JSON-RPC, and checks the Origin and the
 * token before it says anything about the body. True when the error was taken.
 *
 * The parser runs before routing, so this is the one place that decides by the path: exactly
 * the spelling the strict router sends to the MCP controller (`req.path` is the raw path, as the
 * router matches it). Only the shape of the answer depends on it, never a security check: a
 * request deferred here is still refused by the endpoint (Origin, token), and any other path
 * gets the parser's error.
 */
export function deferMcpBodyError(req: Request, err: unknown): boolean {
  if (req.path !== MCP_PATH) return false;
  keepBodyError(req, err);
  return true;
}

/** Keeps the error of a body that could not be read for the MCP endpoint's answer (bodyErrorAnswer). */
export function keepBodyError(req: object, err: unknown): void {
  (req as WithBodyError)[BODY_ERROR] = err ?? new Error('unreadable body');
}

/** The largest JSON body the service reads (express.json's limit and the MCP front door's). */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

/** Deeper JSON is refused: serialising it again (SDK, proxy) would overflow the stack. */
export const MAX_BODY_DEPTH = 64;

/**
 * The JSON-RPC answer to a body the parser refused or that is nested deeper than
 * MAX_BODY_DEPTH, or undefined when the body is fine.
 */
export function bodyErrorAnswer(req: Request): { status: number; code: number; message: string } | undefined {
  const err = (req as WithBodyError)[BODY_ERROR];
  if (err === undefined) {
    if (!nestedDeeperThan(req.body, MAX_BODY_DEPTH)) return undefined;
    return {
      status: 400,
      code: JSONRPC_INVALID_REQUEST,
      message: 'Invalid Request: the body is nested too deeply.',
    };
  }
  const e = err as { type?: string; status?: number; body?: unknown };
  if (e.type === 'entity.too.large') {
    return { status: 413, code: JSONRPC_INVALID_REQUEST, message: 'Invalid Request: the body is too large.' };
  }
  if (e.type === 'entity.parse.failed') {
    // Strict JSON parsing also refuses valid JSON that is not an object or an array (`1`, `"x"`, `null`).
    let json = false;
    try {
      JSON.parse(String(e.body));
      json = true;
    } catch {
      /* not JSON at all */
    }
    return json
      ? {
          status: 400,
          code: JSONRPC_INVALID_REQUEST,
          message: 'Invalid Request: the body must be a JSON-RPC request object or a batch.',
        }
      : { status: 400, code: JSONRPC_PARSE_ERROR, message: 'Parse error: the body is not valid JSON.' };
  }
  const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 400;
  return { status, code: JSONRPC_INVALID_REQUEST, message: 'Invalid Request: the body could not be read.' };
}

/** True when `value` has objects or arrays nested more than `max` levels deep (iterative: no recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child as object, depth + 1]);
    }
  }
  return false;
}
