// Token verification alone, in this process, with the bridge's own classes (no HTTP in the way):
// - the bridge's hot path (McpAuthService: SHA-256 of the token + cache lookup);
// - a full verification with the key cached (AccessTokenVerifier: jose jwtVerify, RS256), and
//   plain jose with a local key set as the reference;
// - the cost of a key cache miss: a token whose `kid` is new (AuthKit rotated) makes the key
//   store refetch the JWKS over HTTP before verifying; and a made-up `kid` inside the refetch
//   cooldown, which is refused without any fetch.
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { loadConfig } from '../../src/config/app-config';
import { memoryGrantRegistry } from '../../test/helpers/memory-grant-store';
import { AccessTokenVerifier } from '../../src/mcp/auth/access-token-verifier';
import { JwksKeyStore } from '../../src/mcp/auth/jwks-key-store';
import type { UserRecheckService } from '../../src/legacy-status/user-recheck.service';
import { McpAuthService } from '../../src/mcp/auth/mcp-auth.service';
import { Clock } from '../../src/mcp/clock';
import { IdentityService } from '../../src/mcp/identity/identity.service';
import { UserDirectory } from '../../src/mcp/identity/user-directory';
import { UserLinkRepository, type LinkedUser } from '../../src/mcp/identity/user-link.repository';
import { mcpSettingsFrom, type McpSettings } from '../../src/mcp/mcp-settings';
import type { Child } from '../lib/child';
import { AUDIENCE, BENCH_USER, secret } from '../lib/env';
import { percentile } from '../lib/load';
import type { Emulator } from './login';

export interface Throughput {
  opsPerSecond: number;
  meanMicroseconds: number;
  operations: number;
}
export interface MissCost {
  samples: number;
  p50Ms: number;
  maxMs: number;
}
export interface VerifyResult {
  cacheHit: Throughput;
  verifyCachedKey: Throughput;
  joseReference: Throughput;
  unknownKidInCooldown: Throughput;
  keyRefetch: MissCost;
  coldStart: MissCost;
}

async function timed(fn: () => Promise<unknown>, seconds: number): Promise<Throughput> {
  for (let i = 0; i < 2000; i++) await fn(); // warm-up (JIT)
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  const ms = performance.now() - start;
  return { opsPerSecond: (n / ms) * 1000, meanMicroseconds: (ms * 1000) / n, operations: n };
}

function missCost(samples: number[]): MissCost {
  const sorted = Float64Array.from(samples).sort();
  return { samples: sorted.length, p50Ms: percentile(sorted, 50), maxMs: sorted[sorted.length - 1] };
}

class FixedLinks extends UserLinkRepository {
  constructor(private readonly user: LinkedUser) {
    super();
  }
  findByWorkosUserId = async (): Promise<LinkedUser | null> => this.user;
  link = async (_sub: string, u: LinkedUser): Promise<LinkedUser> => u;
}
class NoDirectory extends UserDirectory {
  getUser = async () => null;
}

export async function runVerify(
  emulator: Emulator,
  emulatorChild: Child<unknown>,
  token: string,
  seconds: number,
  missSamples: number,
): Promise<VerifyResult> {
  const config = loadConfig({
    NODE_ENV: 'development',
    PUBLIC_URL: 'https://bridge.bench.example',
    WORKOS_API_KEY: emulator.apiKey,
    WORKOS_CLIENT_ID: emulator.clientId,
    WORKOS_API_URL: emulator.url,
    AUTHKIT_DOMAIN: emulator.issuer,
    MCP_AUDIENCE: AUDIENCE,
    SESSION_SECRET: secret(),
  });
  const clock = new Clock();
  const base = mcpSettingsFrom(config);
  const make = (s: McpSettings) => {
    const keys = new JwksKeyStore(s, (input, init) => fetch(input, init), clock);
    return { keys, verifier: new AccessTokenVerifier(s, keys, clock) };
  };

  // Key cached: every call is a full RS256 verification.
  const { keys, verifier } = make(base);
  await verifier.verify(token);
  const verifyCachedKey = await timed(() => verifier.verify(token), seconds);

  // Plain jose, the same checks, a local key set: the reference.
  const jwks = (await (await fetch(base.jwksUrl!)).json()) as JSONWebKeySet;
  const local = createLocalJWKSet(jwks);
  const joseOptions = {
    algorithms: ['RS256'],
    issuer: base.issuer,
    audience: base.audiences,
    requiredClaims: ['exp', 'iat', 'sub'],
  };
  const joseReference = await timed(() => jwtVerify(token, local, joseOptions), seconds);

  // The hot path of /mcp: a token seen before.
  const identities = new IdentityService(
    new FixedLinks({
      legacyUserId: 'u1',
      email: BENCH_USER.email,
      firstName: null,
      lastName: null,
      roles: [],
      tenants: [],
      active: true,
    }),
    new NoDirectory(),
    clock,
  );
  const benchConfig = loadConfig({ PUBLIC_URL: 'http://127.0.0.1:1', LOG_LEVEL: 'silent' });
  const { registry, metrics } = memoryGrantRegistry(benchConfig);
  // No LEGACY_USER_URL: rechecks are off, as noteCall's first test makes them.
  const noRecheck = { noteCall: () => undefined } as unknown as UserRecheckService;
  const auth = new McpAuthService(
    base,
    verifier,
    identities,
    clock,
    registry,
    metrics,
    benchConfig,
    noRecheck,
  );
  const header = `Bearer ${token}`;
  await auth.authenticate(header);
  const cacheHit = await timed(() => auth.authenticate(header), seconds);

  // A made-up kid right after a fetch: refused without a refetch (cooldown).
  const unknownKid = await emulatorChild.call<string>('mint', [{ aud: AUDIENCE }, { key: 'unknown' }]);
  await keys.refresh();
  const unknownKidInCooldown = await timed(
    () =>
      verifier.verify(unknownKid).then(
        () => {
          throw new Error('a token with an unknown kid verified');
        },
        () => undefined,
      ),
    Math.min(seconds, 2),
  );

  // A new kid (AuthKit rotated): one JWKS refetch, then the verification. The refetch rate limits
  // (at most one per jwksRefetchIntervalMs, 1 s in production) are off here so that every sample
  // measures the refetch itself, not the wait for the next allowed one.
  const rotating = make({ ...base, jwksCooldownMs: 0, jwksRefetchIntervalMs: 0 });
  await rotating.verifier.verify(token);
  const refetch: number[] = [];
  for (let i = 0; i < missSamples; i++) {
    await emulatorChild.call('rotateKeys', 3600);
    const fresh = await emulatorChild.call<string>('mint', [{ aud: AUDIENCE }]);
    const t0 = performance.now();
    await rotating.verifier.verify(fresh);
    refetch.push(performance.now() - t0);
  }

  // A fresh process's first verification: metadata-less key store, first JWKS fetch.
  const cold: number[] = [];
  const current = await emulatorChild.call<string>('mint', [{ aud: AUDIENCE }]);
  for (let i = 0; i < missSamples; i++) {
    const fresh = make(base);
    const t0 = performance.now();
    await fresh.verifier.verify(current);
    cold.push(performance.now() - t0);
  }

  return {
    cacheHit,
    verifyCachedKey,
    joseReference,
    unknownKidInCooldown,
    keyRefetch: missCost(refetch),
    coldStart: missCost(cold),
  };
}
