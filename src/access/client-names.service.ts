import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';

/** Injection token for the fetch the resolver uses (tests substitute one); global fetch by default. */
export const CLIENT_NAME_FETCH = Symbol('CLIENT_NAME_FETCH');

/** Time limit for one lookup: DNS, connection, answer and body together. */
export const CLIENT_NAME_TIMEOUT_MS = 3_000;
/** The largest metadata document read; a real one is well under 2 KiB. */
export const CLIENT_NAME_MAX_BYTES = 64 * 1024;
/** The longest name shown, in characters (code points). */
export const CLIENT_NAME_MAX_LENGTH = 100;
/** How long a found name is kept. */
export const CLIENT_NAME_TTL_MS = 60 * 60_000;
/** How long a failed lookup is kept before the next attempt. */
export const CLIENT_NAME_FAILURE_TTL_MS = 5 * 60_000;
/** Cached client ids at most; the oldest entry makes room. */
export const CLIENT_NAME_CACHE_SIZE = 1_000;

interface CacheEntry {
  promise: Promise<string | null>;
  /** Epoch ms; Infinity while the lookup runs. */
  expiresAt: number;
}

class LookupFailed extends Error {}

/**
 * Recognisable names for the OAuth clients (MCP clients) that hold access to a person's account.
 *
 * A client that uses a Client ID Metadata Document (CIMD, draft-ietf-oauth-client-id-metadata-document)
 * has an https URL as its client_id; the document there names it (`client_name`). Other client
 * ids (dynamic registration, pre-registered) have no name to find here: null, without network.
 *
 * The URL comes from whoever registered the client, so fetching it is guarded against SSRF:
 * https only (http too outside production), no credentials or fragment in the URL, and in
 * production every address the host resolves to must be public ({@link isPublicAddress}); no
 * redirect is followed; 3 s and 64 KiB at most. The answer must be a JSON object whose
 * `client_id` is the URL itself, with a `client_name` string; the name is cleaned up (control
 * and bidi characters removed, whitespace collapsed, 100 characters at most), since it is shown
 * to people as text.
 *
 * Results are kept in memory (a name for an hour, a failure for five minutes, 1,000 client ids
 * at most); concurrent lookups of one client id share one fetch. Never rejects.
 */
@Injectable()
export class ClientNameResolver {
  private readonly logger = new Logger('ClientNames');
  private readonly cache = new Map<string, CacheEntry>();
  private readonly fetchFn: typeof fetch;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() @Inject(CLIENT_NAME_FETCH) fetchFn?: typeof fetch,
  ) {
    // Looked up at call time, so that a global fetch replaced later is the one used.
    this.fetchFn = fetchFn ?? ((input, init) => fetch(input, init));
  }

  /** The name of one client, or null when it has none to show (or it could not be found). */
  async nameOf(clientId: string): Promise<string | null> {
    try {
      const url = this.metadataUrl(clientId);
      if (!url) return null;
      return await this.cached(clientId, url);
    } catch {
      return null;
    }
  }

  /** The names of several clients, looked up in parallel, each client id once. */
  async namesOf(clientIds: string[]): Promise<Map<string, string | null>> {
    const ids = [...new Set(clientIds)];
    const names = await Promise.all(ids.map((id) => this.nameOf(id)));
    return new Map(ids.map((id, i) => [id, names[i]]));
  }

  /** The URL to fetch for this client id, or undefined when it is not one the bridge will fetch. */
  private metadataUrl(clientId: string): URL | undefined {
    if (typeof clientId !== 'string' || !/^https?:\/\//i.test(clientId)) return undefined;
    let url: URL;
    try {
      url = new URL(clientId);
    } catch {
      return undefined;
    }
    const schemeAllowed = url.protocol === 'https:' || (url.protocol === 'http:' && !this.config.production);
    if (!schemeAllowed) return undefined;
    if (url.username || url.password) return undefined;
    // A fragment, even an empty one ("…#"), which URL does not keep in `hash`.
    if (clientId.includes('#')) return undefined;
    return url;
  }

  private cached(clientId: string, url: URL): Promise<string | null> {
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.expiresAt > now) return hit.promise;
    if (hit) this.cache.delete(clientId);
    while (this.cache.size >= CLIENT_NAME_CACHE_SIZE) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    const entry: CacheEntry = { promise: Promise.resolve(null), expiresAt: Infinity };
    entry.promise = this.lookUp(clientId, url).then((name) => {
      entry.expiresAt = Date.now() + (name === null ? CLIENT_NAME_FAILURE_TTL_MS : CLIENT_NAME_TTL_MS);
      return name;
    });
    this.cache.set(clientId, entry);
    return entry.promise;
  }

  /** One lookup: the cleaned-up name, or null (the reason goes to the debug log). */
  private async lookUp(clientId: string, url: URL): Promise<string | null> {
    const signal = AbortSignal.timeout(CLIENT_NAME_TIMEOUT_MS);
    let stop: (() => void) | undefined;
    // Whatever the fetch does with the signal, the lookup ends when time is up.
    const timeUp = new Promise<never>((_, reject) => {
      stop = () => reject(new LookupFailed(`no answer within ${CLIENT_NAME_TIMEOUT_MS} ms`));
      signal.addEventListener('abort', stop, { once: true });
    });
    timeUp.catch(() => undefined);
    try {
      const document = await Promise.race([this.fetchDocument(url, signal), timeUp]);
      return nameFromDocument(document, clientId);
    } catch (err) {
      const reason =
        err instanceof LookupFailed
          ? err.message
          : (err as Error)?.name === 'TimeoutError'
            ? `no answer within ${CLIENT_NAME_TIMEOUT_MS} ms`
            : ((err as Error)?.cause as Error | undefined)?.message || (err as Error)?.message || String(err);
      this.logger.debug(`No client name for ${JSON.stringify(clientId)}: ${reason}`);
      return null;
    } finally {
      if (stop) signal.removeEventListener('abort', stop);
    }
  }

  private async fetchDocument(url: URL, signal: AbortSignal): Promise<unknown> {
    if (this.config.production) await this.assertPublicHost(url.hostname);
    // Time-of-check to time-of-use: fetch resolves the host again, and a DNS answer that changed
    // in between (rebinding) is not checked. Global fetch cannot be pinned to an address without
    // undici's Agent, which is not a dependency. What limits the damage: production fetches
    // https only, so the peer must present a valid certificate for the client's own host name
    // (an internal service will not), no redirect is followed, and nothing but a cleaned-up
    // client_name from a matching document ever comes back out of here.
    const res = await this.fetchFn(url.href, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new LookupFailed(
        res.status >= 300 && res.status < 400
          ? `redirected (${res.status}), not followed`
          : `HTTP ${res.status}`,
      );
    }
    const text = await readLimited(res, CLIENT_NAME_MAX_BYTES, signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new LookupFailed('the answer is not JSON');
    }
  }

  /** Production: the host name (or IP literal) resolves only to public addresses. */
  private async assertPublicHost(hostname: string): Promise<void> {
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = await this.resolveHost(host);
    if (!addresses.length) throw new LookupFailed(`${host} has no address`);
    const refused = addresses.find((a) => !isPublicAddress(a));
    if (refused !== undefined)
      throw new LookupFailed(`${host} resolves to a non-public address (${refused})`);
  }

  /** Every address of a host name (an IP literal resolves to itself). Protected: tests replace it. */
  protected async resolveHost(host: string): Promise<string[]> {
    const found = await lookup(host, { all: true });
    return found.map((a) => a.address);
  }
}

/** Reads the body as UTF-8 text; fails beyond maxBytes (without reading further) or on abort. */
async function readLimited(res: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        cancel();
        throw new LookupFailed(`the answer is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The client_name of a CIMD document that belongs to `clientId`, cleaned up for display. */
function nameFromDocument(document: unknown, clientId: string): string {
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw new LookupFailed('the answer is not a JSON object');
  const { client_id, client_name } = document as { client_id?: unknown; client_name?: unknown };
  // CIMD: the document's client_id must equal the URL it was fetched from (string comparison).
  if (client_id !== clientId) throw new LookupFailed('its client_id is not the URL it was fetched from');
  if (typeof client_name !== 'string') throw new LookupFailed('it has no client_name string');
  const name = cleanClientName(client_name);
  if (!name) throw new LookupFailed('its client_name is empty');
  return name;
}

/**
 * A client_name fit to show: control characters and bidirectional-text controls removed,
 * whitespace runs as one space, trimmed, at most {@link CLIENT_NAME_MAX_LENGTH} characters.
 */
export function cleanClientName(raw: string): string {
  const cleaned = raw
    .replace(/[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, (c) => (/\s/.test(c) ? ' ' : ''))
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(cleaned);
  return chars.length > CLIENT_NAME_MAX_LENGTH
    ? chars.slice(0, CLIENT_NAME_MAX_LENGTH).join('').trimEnd()
    : cleaned;
}

// ---------------------------------------------------------------------------------------------
// Address checks

type Range = [prefix: number[], bits: number];

/** IPv4 ranges that are not the public internet (RFC 6890 and friends). */
const IPV4_NOT_PUBLIC: Range[] = [
  [[0, 0, 0, 0], 8], // "this network", 0.0.0.0
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // shared address space (CGNAT)
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local (cloud metadata endpoints)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2, 0], 24], // documentation (TEST-NET-1)
  [[192, 88, 99, 0], 24], // 6to4 relay anycast (deprecated)
  [[192, 168, 0, 0], 16], // private
  [[198, 18, 0, 0], 15], // benchmarking
  [[198, 51, 100, 0], 24], // documentation (TEST-NET-2)
  [[203, 0, 113, 0], 24], // documentation (TEST-NET-3)
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, and 255.255.255.255 broadcast
];

/** Inside 2000::/3 (global unicast), the ranges that are not the public internet. */
const IPV6_GLOBAL_NOT_PUBLIC: Range[] = [
  [[0x20, 0x01, 0x00, 0x00], 32], // Teredo (embeds an IPv4 address)
  [[0x20, 0x01, 0x00, 0x02, 0x00, 0x00], 48], // benchmarking
  [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
  [[0x20, 0x02], 16], // 6to4 (embeds an IPv4 address)
  [[0x3f, 0xff, 0x00], 20], // documentation (RFC 9637)
];

const inRange = (bytes: Uint8Array | number[], [prefix, bits]: Range): boolean => {
  for (let i = 0; i < prefix.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (prefix[i] & mask)) return false;
  }
  return true;
};

function ipv4Bytes(ip: string): number[] | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (a zone id is ignored), or undefined when it is not one. */
function ipv6Bytes(ip: string): Uint8Array | undefined {
  const address = ip.replace(/%.*$/, '');
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = ipv4Bytes(quad[1]);
    if (!b) return undefined;
    text = `${text.slice(0, -quad[1].length)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return bytes;
}

const isPublicIpv4 = (bytes: number[]): boolean => !IPV4_NOT_PUBLIC.some((r) => inRange(bytes, r));

/**
 * Whether an IP address (v4 or v6, as dns.lookup returns it) is on the public internet: not
 * private, loopback, link-local, unique-local, multicast, unspecified, shared (CGNAT),
 * documentation or reserved. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
 * addresses are judged by the IPv4 address inside. Anything that does not parse: false.
 */
export function isPublicAddress(ip: string): boolean {
  const v4 = ipv4Bytes(ip);
  if (v4) return isPublicIpv4(v4);
  const v6 = ipv6Bytes(ip);
  if (!v6) return false;
  const embedded = Array.from(v6.subarray(12));
  // IPv4-mapped ::ffff:0:0/96
  if (inRange(v6, [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96])) return isPublicIpv4(embedded);
  // NAT64 well-known prefix 64:ff9b::/96 (DNS64 in IPv6-only networks)
  if (inRange(v6, [[0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96])) return isPublicIpv4(embedded);
  // Only global unicast (2000::/3) is public: this excludes ::, ::1, fc00::/7, fe80::/10,
  // fec0::/10, ff00::/8, 100::/64, 64:ff9b:1::/48, IPv4-compatible ::/96 and the rest.
  if (!inRange(v6, [[0x20], 3])) return false;
  return !IPV6_GLOBAL_NOT_PUBLIC.some((r) => inRange(v6, r));
}
