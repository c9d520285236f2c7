import { PROTOCOL_VERSION_META_KEY, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The MCP request headers that repeat what the body says (MCP 2026-07-28, SEP-2243), so that
 * intermediaries can route without reading the body: `Mcp-Method` (the method), `Mcp-Name`
 * (`params.name` / `params.uri` / `params.taskId`), `Mcp-Param-{Name}` (a tool argument declared
 * with `x-mcp-header`), and `MCP-Protocol-Version` (the per-request envelope's version).
 *
 * The bridge decides by the body (the scope check reads `params.name`); anything behind it may
 * decide by the headers. A request whose headers say something else than its body is refused
 * with 400 and the SDK's -32020 (HeaderMismatch), as the MCP SDK's server does, on every
 * request (the SDK checks them only on 2026-07-28 requests).
 */

/** The SDK's HeaderMismatch code (the draft schema's HEADER_MISMATCH): HTTP 400. */
export const JSONRPC_HEADER_MISMATCH = -32020;
export const MCP_PARAM_HEADER_PREFIX = 'mcp-param-';

const LEGACY_VERSIONS = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS);

/** Which body field `Mcp-Name` mirrors, per method (the SDK's MCP_NAME_HEADER_SOURCE). */
const MCP_NAME_SOURCE: Readonly<Record<string, 'name' | 'uri' | 'taskId'>> = Object.freeze({
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
});

const BASE64_SENTINEL_PREFIX = '=?base64?';
const BASE64_SENTINEL_SUFFIX = '?=';
const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface HeaderMismatch {
  /** The header at fault (its name). */
  header: string;
  /** Why, without echoing the header's value. */
  reason: string;
}

/**
 * The first way the standard MCP headers of a POST disagree with its body, or undefined.
 * `body` is the parsed JSON (one message or a batch).
 */
export function headerBodyMismatch(headers: IncomingHttpHeaders, body: unknown): HeaderMismatch | undefined {
  const messages = (Array.isArray(body) ? body : [body]).filter(
    (m): m is { method: string; params?: unknown } =>
      typeof m === 'object' && m !== null && typeof (m as { method?: unknown }).method === 'string',
  );
  const method = headers['mcp-method'];
  if (method !== undefined) {
    const named = typeof method === 'string' ? stripOws(method) : undefined;
    if (messages.length === 0)
      return {
        header: 'Mcp-Method',
        reason: 'the Mcp-Method header names a method but the body carries none',
      };
    const other = messages.find((m) => m.method !== named);
    if (other)
      return {
        header: 'Mcp-Method',
        reason: `the Mcp-Method header does not match the body's method ${quote(other.method)}`,
      };
  }
  const name = headers['mcp-name'];
  if (name !== undefined) {
    const decoded = typeof name === 'string' ? decodeParamValue(stripOws(name)) : undefined;
    if (decoded === undefined)
      return { header: 'Mcp-Name', reason: 'the Mcp-Name header carries an invalid value' };
    for (const m of messages) {
      const field = Object.hasOwn(MCP_NAME_SOURCE, m.method) ? MCP_NAME_SOURCE[m.method] : undefined;
      const value = field && isObject(m.params) ? m.params[field] : undefined;
      if (typeof value === 'string' && value !== decoded)
        return {
          header: 'Mcp-Name',
          reason: `the Mcp-Name header does not match the body's params.${field} ${quote(value)}`,
        };
    }
  }
  const version = headers['mcp-protocol-version'];
  if (version !== undefined) {
    const named = typeof version === 'string' ? stripOws(version) : undefined;
    for (const m of messages) {
      const claim = envelopeVersion(m.params);
      if (claim !== undefined && claim !== named)
        return {
          header: 'MCP-Protocol-Version',
          reason: `the MCP-Protocol-Version header does not match the protocol version ${quote(claim)} of the body's envelope`,
        };
    }
  }
  for (const header in headers) {
    if (!header.startsWith(MCP_PARAM_HEADER_PREFIX)) continue;
    const value = headers[header];
    if (value === undefined) continue;
    const param = `Mcp-Param-${header.slice(MCP_PARAM_HEADER_PREFIX.length)}`;
    if (typeof value !== 'string' || decodeParamValue(stripOws(value)) === undefined)
      return { header: param, reason: `the ${param} header carries an invalid value` };
  }
  return undefined;
}

/**
 * True for a 2026-07-28-era request: one message whose `params._meta` claims a protocol version
 * that is not one of the 2024/2025 revisions. Only there does an MCP server check `Mcp-Param-*`
 * against the tool's `x-mcp-header` declarations.
 */
export function isModernRequest(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const claim = envelopeVersion((body as { params?: unknown }).params);
  return claim !== undefined && !LEGACY_VERSIONS.has(claim);
}

/** `=?base64?…?=` decoded (canonical Base64 of UTF-8 only), any other value as is; undefined when invalid. */
export function decodeParamValue(value: string): string | undefined {
  if (!(value.startsWith(BASE64_SENTINEL_PREFIX) && value.endsWith(BASE64_SENTINEL_SUFFIX))) return value;
  const b64 = value.slice(BASE64_SENTINEL_PREFIX.length, value.length - BASE64_SENTINEL_SUFFIX.length);
  if (!BASE64_CANONICAL.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

function envelopeVersion(params: unknown): string | undefined {
  if (!isObject(params) || !isObject(params._meta)) return undefined;
  const claim = params._meta[PROTOCOL_VERSION_META_KEY];
  return typeof claim === 'string' ? claim : undefined;
}

/** A value from the body, quoted and cut short for an error message. */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

/** RFC 9110 optional whitespace (SP, HTAB) around a field value, in linear time (no regex backtracking). */
function stripOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return value.slice(start, end);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
