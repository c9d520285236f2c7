import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';

export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  spki: string;
}

export async function testKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicKey, jwk, spki: await exportSPKI(publicKey) };
}

export const jwks = (...keys: TestKey[]): JSONWebKeySet => ({ keys: keys.map((k) => k.jwk) });

/** A fetch that serves the given JWKS / metadata documents and counts calls per URL. */
export class FakeFetch {
  readonly calls: string[] = [];
  readonly documents = new Map<string, unknown>();
  failing = false;

  readonly fn = (async (input: string | URL | Request) => {
    const url = String(input);
    this.calls.push(url);
    if (this.failing) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    if (!this.documents.has(url)) return new Response('{"message":"not found"}', { status: 404 });
    return new Response(JSON.stringify(this.documents.get(url)), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;

  count(url: string): number {
    return this.calls.filter((c) => c === url).length;
  }
}

/** A clock tests move by hand. */
export class FakeClock {
  constructor(public time = Date.UTC(2026, 10, 22, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  get seconds(): number {
    return Math.floor(this.time / 1000);
  }
}

export interface SignOptions {
  alg?: string;
  kid?: string | null;
  key?: CryptoKey | Uint8Array;
}

/** Signs claims as they are given (no defaults added). */
export async function sign(claims: JWTPayload, signer: TestKey, options: SignOptions = {}): Promise<string> {
  const alg = options.alg ?? 'RS256';
  const header: Record<string, unknown> = { alg, typ: 'JWT' };
  const kid = options.kid === undefined ? signer.kid : options.kid;
  if (kid !== null) header.kid = kid;
  return new SignJWT(claims)
    .setProtectedHeader(header as { alg: string })
    .sign(options.key ?? signer.privateKey);
}

/** An unsigned token (`alg: none`), built by hand: jose refuses to make one. */
export function unsecured(
  claims: JWTPayload,
  header: Record<string, unknown> = { alg: 'none', typ: 'JWT' },
): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64(header)}.${b64(claims)}.`;
}
