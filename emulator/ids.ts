import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (26 Crockford base32 characters: 48-bit time, 80 random bits), as WorkOS ids use. */
export function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i] % 32];
  return time + rand;
}

/** `prefix_01…`: the WorkOS id style (`user_01…`, `ext_auth_01…`). */
export const prefixedId = (prefix: string): string => `${prefix}_${ulid()}`;

/** An opaque, unguessable token (256 bits, base64url). */
export const opaqueToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const sha256Base64url = (value: string): string =>
  createHash('sha256').update(value, 'ascii').digest('base64url');

/** Constant-time string comparison (lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
