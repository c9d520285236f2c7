import { ServerResponse, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

/**
 * Headers every answer of a response carries (the security headers, computed once at boot), as
 * Node's flat `[name, value, name, value, …]` list, plus the request's id.
 */
export class HeaderPreset {
  private readonly values = new Map<string, string>();

  constructor(readonly list: readonly string[]) {
    if (list.length % 2 !== 0) throw new Error('a header preset is a list of name, value pairs');
    for (let i = 0; i < list.length; i += 2) this.values.set(list[i].toLowerCase(), list[i + 1]);
  }

  /** True when none of the flat list's names is one of the preset's (or the request id's). */
  disjointFrom(headers: readonly OutgoingHttpHeader[]): boolean {
    for (let i = 0; i < headers.length; i += 2) {
      const name = String(headers[i]).toLowerCase();
      if (name === 'x-request-id' || this.values.has(name)) return false;
    }
    return true;
  }

  /** True when the preset gives the header `name` exactly `value`. */
  gives(name: string, value: string): boolean {
    return this.values.get(name.toLowerCase()) === value;
  }
}

const PRESET = Symbol('connect-bridge.headerPreset');
const REQUEST_ID = Symbol('connect-bridge.requestId');

type PresetResponse = ServerResponse & { [PRESET]: HeaderPreset; [REQUEST_ID]: string };
type HeaderArgument = OutgoingHttpHeaders | OutgoingHttpHeader[];

/**
 * Gives `res` the preset's headers and `X-Request-Id: requestId`, written with the answer's status
 * line, whatever answers it (`writeHead`, or `end()`/`write()`, which call it). The answer's own
 * headers win over preset ones of the same name, as if the preset had been set first with
 * setHeader. An answer that sets none of its own one by one (`res.writeHead(200, ['Content-Type',
 * 'application/json'])`) costs one list handed to Node's writeHead, instead of a setHeader per
 * header (a name lowered, a pair stored and read back) for the ~15 of every answer.
 */
export function presetHeaders(res: ServerResponse, preset: HeaderPreset, requestId: string): void {
  const r = res as PresetResponse;
  r[PRESET] = preset;
  r[REQUEST_ID] = requestId;
  res.writeHead = writeHeadWithPreset as ServerResponse['writeHead'];
}

/**
 * `res.setHeader(name, value)`, unless the response's preset already gives it that value: code that
 * answers on both paths (Express, and the front door's preset responses) sets a header this way to
 * keep the front door's answers to one header list.
 */
export function setHeaderUnlessPreset(res: ServerResponse, name: string, value: string): void {
  if (!(res as Partial<PresetResponse>)[PRESET]?.gives(name, value)) res.setHeader(name, value);
}

const nodeWriteHead = ServerResponse.prototype.writeHead as (
  this: ServerResponse,
  statusCode: number,
  reason?: string | HeaderArgument,
  headers?: HeaderArgument,
) => ServerResponse;

function writeHeadWithPreset(
  this: PresetResponse,
  statusCode: number,
  reason?: string | HeaderArgument,
  headers?: HeaderArgument,
): ServerResponse {
  if (typeof reason !== 'string') {
    headers = reason;
    reason = undefined;
  }
  const preset = this[PRESET];
  const flat = headers === undefined || (Array.isArray(headers) && !Array.isArray(headers[0]));
  if (flat && this.getHeaderNames().length === 0) {
    const own = (headers ?? []) as OutgoingHttpHeader[];
    if (preset.disjointFrom(own)) {
      // Nothing set one by one: one list, the preset's, the id, then the answer's own.
      const list: OutgoingHttpHeader[] = preset.list.slice();
      list.push('X-Request-Id', this[REQUEST_ID]);
      for (let i = 0; i < own.length; i++) list.push(own[i]);
      return nodeWriteHead.call(this, statusCode, reason, list as string[]);
    }
  }
  // The answer set headers one by one (or passes some of the preset's): the preset's it has not set
  // are set the same way first, so that Node's writeHead applies the answer's over them.
  const list = preset.list;
  for (let i = 0; i < list.length; i += 2) {
    if (!this.hasHeader(list[i])) this.setHeader(list[i], list[i + 1]);
  }
  if (!this.hasHeader('X-Request-Id')) this.setHeader('X-Request-Id', this[REQUEST_ID]);
  return nodeWriteHead.call(this, statusCode, reason, headers);
}
