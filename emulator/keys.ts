import { createHmac, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { generateKeyPair as joseGenerateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { prefixedId } from './ids';

const generateRsa = promisify(generateKeyPair);

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  createdAt: number;
  /** Set when rotated out: published in the JWKS until then (epoch ms). */
  retiresAt?: number;
}

export interface PublicJwk {
  kty: string;
  kid: string;
  use: 'sig';
  alg: 'RS256';
  n: string;
  e: string;
}

export type KeyChoice = 'current' | 'previous' | 'unknown';

export async function newRsaKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  return { kid: prefixedId('sso_oidc_key_pair'), privateKey, publicKey, createdAt: Date.now() };
}

/**
 * The issuer's RS256 signing keys. Rotation keeps the previous key published in the JWKS
 * for a grace period, so tokens signed just before a rotation still verify.
 */
export class KeyRing {
  private current!: SigningKey;
  private retired: SigningKey[] = [];

  static async create(): Promise<KeyRing> {
    const ring = new KeyRing();
    ring.current = await newRsaKey();
    return ring;
  }

  get currentKey(): SigningKey {
    return this.current;
  }

  /** The most recently retired key, published or not. */
  get previousKey(): SigningKey | undefined {
    return this.retired[this.retired.length - 1];
  }

  async rotate(graceSeconds: number): Promise<SigningKey> {
    const next = await newRsaKey();
    this.current.retiresAt = Date.now() + Math.max(0, graceSeconds) * 1000;
    this.retired.push(this.current);
    this.current = next;
    return next;
  }

  /** Keys published now: the current key first, then retired keys still in their grace period. */
  published(now = Date.now()): SigningKey[] {
    return [this.current, ...this.retired.filter((k) => (k.retiresAt ?? 0) > now).reverse()];
  }

  jwks(now = Date.now()): { keys: PublicJwk[] } {
    return {
      keys: this.published(now).map((k) => {
        const jwk = k.publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
        return { kty: jwk.kty, kid: k.kid, use: 'sig', alg: 'RS256', n: jwk.n, e: jwk.e };
      }),
    };
  }

  /** A published key by kid (for verifying tokens the emulator issued). */
  find(kid: string | undefined, now = Date.now()): SigningKey | undefined {
    return this.published(now).find((k) => k.kid === kid);
  }

  /** Signs with the current key (RS256): every token the OAuth flows issue. */
  sign(payload: JWTPayload): Promise<string> {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: this.current.kid, typ: 'JWT' })
      .sign(this.current.privateKey);
  }

  /**
   * Signs for negative tests: any JWS algorithm, any kid, with the current, previous or an
   * unpublished key. `none` yields an unsigned token; `HS*` uses the current public key's
   * PEM as the HMAC secret (the classic algorithm-confusion attack).
   */
  async signHostile(
    payload: JWTPayload,
    opts: { alg?: string; kid?: string; key?: KeyChoice },
  ): Promise<string> {
    const alg = opts.alg ?? 'RS256';
    let key: SigningKey;
    if (opts.key === 'previous') {
      const prev = this.previousKey;
      if (!prev) throw new Error('no previous key: call rotateKeys() first');
      key = prev;
    } else if (opts.key === 'unknown') {
      key = await newRsaKey();
    } else {
      key = this.current;
    }
    const kid = opts.kid ?? key.kid;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    if (alg === 'none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    if (/^HS(256|384|512)$/.test(alg)) {
      const secret = key.publicKey.export({ format: 'pem', type: 'spki' });
      const input = `${b64({ alg, kid, typ: 'JWT' })}.${b64(payload)}`;
      const sig = createHmac(`sha${alg.slice(2)}`, secret)
        .update(input)
        .digest('base64url');
      return `${input}.${sig}`;
    }
    if (/^(RS|PS)(256|384|512)$/.test(alg)) {
      return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key.privateKey);
    }
    if (/^ES(256|384|512)$/.test(alg) || alg === 'EdDSA') {
      const { privateKey } = await joseGenerateKeyPair(alg);
      return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(privateKey);
    }
    throw new Error(`unsupported alg ${alg}`);
  }
}
