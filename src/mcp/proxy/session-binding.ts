import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** The HKDF label of the binding key: never the key that signs identity tokens. */
const KEY_LABEL = 'connect-bridge/mcp-upstream-bound-ids/v1';
const MAC_BYTES = 32;

/**
 * What an id names: an upstream session (`Mcp-Session-Id`) or an event of an upstream SSE stream
 * (`id:`, sent back as `Last-Event-ID`). Each has its own prefix and MAC domain: one is never
 * accepted as the other.
 */
export type BoundIdKind = 'session' | 'event';
const PREFIXES: Record<BoundIdKind, string> = { session: 's1.', event: 'e1.' };
/** Longer presented ids are refused unread (an upstream id of up to ~3 KB fits). */
export const MAX_BOUND_ID_LENGTH = 4096;

/**
 * Proxy mode: the upstream's `Mcp-Session-Id` and SSE event ids, bound to the user they were
 * issued to.
 *
 * The client gets `s1.<upstream id>.<HMAC-SHA256(key, [kind, sub, upstream id])>` (`e1.…` for
 * event ids; both parts base64url, so visible ASCII as the MCP transport requires), the key
 * derived from MCP_UPSTREAM_SECRET by HKDF-SHA256 under its own label. On the way in an id is
 * unwrapped only for the same `sub` and kind: another user's id, the upstream's own id, or
 * anything altered is no id at all (the proxy answers 404, as the MCP spec says for an unknown
 * session; 400 for an event id), and never reaches the upstream. Stateless: any instance with
 * the same secret unwraps any instance's ids.
 *
 * Not secret: the user an id belongs to can read the upstream id in it. It only binds: without
 * the key, nobody can make an id that unwraps for another `sub`.
 */
export class SessionIdBinding {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), KEY_LABEL, 32));
  }

  /** The id to hand the client for the upstream's `upstreamId`, bound to `sub`. */
  wrap(sub: string, upstreamId: string, kind: BoundIdKind = 'session'): string {
    const id = Buffer.from(upstreamId, 'utf8');
    return `${PREFIXES[kind]}${id.toString('base64url')}.${this.mac(kind, sub, id).toString('base64url')}`;
  }

  /** The upstream's id inside `presented`, when it was bound to `sub` with this key; else undefined. */
  unwrap(sub: string, presented: string, kind: BoundIdKind = 'session'): string | undefined {
    const prefix = PREFIXES[kind];
    if (presented.length > MAX_BOUND_ID_LENGTH || !presented.startsWith(prefix)) return undefined;
    const parts = presented.slice(prefix.length).split('.');
    if (parts.length !== 2 || !BASE64URL.test(parts[0]) || !BASE64URL.test(parts[1])) return undefined;
    const id = Buffer.from(parts[0], 'base64url');
    const mac = Buffer.from(parts[1], 'base64url');
    // Canonical encodings only: one spelling per id (no trailing bits, no padding).
    if (id.toString('base64url') !== parts[0] || mac.length !== MAC_BYTES) return undefined;
    if (mac.toString('base64url') !== parts[1]) return undefined;
    if (!timingSafeEqual(mac, this.mac(kind, sub, id))) return undefined;
    return id.toString('utf8');
  }

  private mac(kind: BoundIdKind, sub: string, id: Buffer): Buffer {
    // JSON of [kind, sub, id]: unambiguous whatever they contain.
    return createHmac('sha256', this.key)
      .update(JSON.stringify([kind, sub, id.toString('base64url')]))
      .digest();
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
