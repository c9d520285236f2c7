import { FakeClock, FakeFetch, jwks, sign, testKey, type TestKey } from '../../../test/mcp/keys';
import { loadConfig } from '../../config/app-config';
import type { Clock } from '../clock';
import { mcpSettingsFrom, type McpSettings } from '../mcp-settings';
import { AccessTokenVerifier } from './access-token-verifier';
import { JwksKeyStore, KeySetUnavailableError } from './jwks-key-store';
import { TokenRejectedError } from './token-errors';

const ISSUER = 'https://acme.authkit.app';
const JWKS_URL = `${ISSUER}/oauth2/jwks`;
const AUDIENCE = 'https://bridge.example.com/mcp';

const settings = (over: Partial<McpSettings> = {}): McpSettings => ({
  ...mcpSettingsFrom(
    loadConfig({
      PUBLIC_URL: 'https://bridge.example.com',
      AUTHKIT_DOMAIN: ISSUER,
      WORKOS_API_KEY: 'sk_test_1',
      WORKOS_CLIENT_ID: 'client_1',
    }),
  ),
  ...over,
});

/** Lets everything that can settle without I/O settle: a bounded number of event-loop turns, no timers. */
async function until(condition: () => boolean, turns = 200): Promise<boolean> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise((r) => setImmediate(r));
  return condition();
}

/**
 * A fetch of AuthKit's key set that answers only when the test releases it: a request that waits
 * for a refetch stays pending until then, so "answered at once" and "held" can be counted.
 */
class GatedFetch extends FakeFetch {
  private release?: () => void;
  private gate?: Promise<void>;
  hold(): void {
    this.gate = new Promise<void>((r) => (this.release = r));
  }
  open(): void {
    this.release?.();
    this.gate = undefined;
  }
  readonly gated = (async (input: string | URL | Request, init?: RequestInit) => {
    const gate = this.gate;
    const answer = this.fn(input, init); // counted now
    if (gate) await gate;
    return answer;
  }) as typeof fetch;
}

/** Starts each verification and tracks how it ends, without awaiting it. */
function launch(verifier: AccessTokenVerifier, tokens: string[]) {
  const outcomes: string[] = [];
  const all = tokens.map((t) =>
    verifier.verify(t).then(
      () => outcomes.push('accepted'),
      (err: unknown) =>
        outcomes.push(
          err instanceof TokenRejectedError
            ? err.reason
            : err instanceof KeySetUnavailableError
              ? 'unavailable'
              : `other: ${String(err)}`,
        ),
    ),
  );
  return { outcomes, done: () => Promise.all(all) };
}

describe('JwksKeyStore: unknown key ids', () => {
  let key: TestKey;
  let other: TestKey;
  let clock: FakeClock;
  let fetch: GatedFetch;
  let verifier: AccessTokenVerifier;
  let s: McpSettings;

  const claims = () => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user_01ABC',
    iat: clock.seconds,
    exp: clock.seconds + 300,
  });
  const madeUp = (n: number, prefix = 'made_up') =>
    Promise.all(Array.from({ length: n }, (_, i) => sign(claims(), key, { kid: `${prefix}_${i}` })));

  beforeAll(async () => {
    key = await testKey('sso_oidc_key_pair_01A');
    other = await testKey('sso_oidc_key_pair_01B');
  });

  function build(over: Partial<McpSettings> = {}) {
    clock = new FakeClock();
    fetch = new GatedFetch();
    fetch.documents.set(JWKS_URL, jwks(key));
    s = settings(over);
    const keys = new JwksKeyStore(s, fetch.gated, clock as unknown as Clock);
    verifier = new AccessTokenVerifier(s, keys, clock as unknown as Clock);
    return keys;
  }

  beforeEach(() => build());

  it('refuses made-up kids at once while the key set was fetched within the cooldown: no fetch, nobody held', async () => {
    await verifier.verify(await sign(claims(), key)); // fetch 1
    clock.advance(s.jwksCooldownMs - 1_000);
    fetch.hold(); // a refetch, if any, would hold its requests until released
    const flood = launch(verifier, await madeUp(50));
    const allAnswered = await until(() => flood.outcomes.length === 50);
    const fetchesDuringFlood = fetch.count(JWKS_URL);
    fetch.open();
    await flood.done();
    expect({ allAnswered, fetchesDuringFlood }).toEqual({ allAnswered: true, fetchesDuringFlood: 1 });
    expect(new Set(flood.outcomes)).toEqual(new Set(['unknown_key']));
    expect(fetch.count(JWKS_URL)).toBe(1);
  });

  it('after the cooldown: one refetch shared by at most jwksMaxWaiting requests, the rest refused at once', async () => {
    build({ jwksMaxWaiting: 10 });
    await verifier.verify(await sign(claims(), key));
    clock.advance(s.jwksCooldownMs);
    fetch.hold();
    const flood = launch(verifier, await madeUp(25));
    // 15 beyond the cap are answered while the refetch is still held; 10 wait for it
    expect(await until(() => flood.outcomes.length === 15)).toBe(true);
    expect(await until(() => flood.outcomes.length > 15, 20)).toBe(false);
    expect(fetch.count(JWKS_URL)).toBe(2);
    fetch.open();
    await flood.done();
    expect(flood.outcomes).toHaveLength(25);
    expect(new Set(flood.outcomes)).toEqual(new Set(['unknown_key']));
    expect(fetch.count(JWKS_URL)).toBe(2);
    // and the next made-up kids are refused at once again, for a whole cooldown
    const again = launch(verifier, await madeUp(5, 'later'));
    expect(await until(() => again.outcomes.length === 5)).toBe(true);
    expect(fetch.count(JWKS_URL)).toBe(2);
  });

  it('defaults: a cooldown of 30 s and at most 100 requests waiting', () => {
    const d = settings();
    expect(d.jwksCooldownMs).toBe(30_000);
    expect(d.jwksMaxWaiting).toBe(100);
  });

  it('picks up a key AuthKit rotated in, at most a cooldown after the last fetch', async () => {
    await verifier.verify(await sign(claims(), key));
    fetch.documents.set(JWKS_URL, jwks(key, other));
    const rotated = await sign(claims(), other);
    // within the cooldown of a successful fetch: refused like any unknown kid, without a fetch
    await expect(verifier.verify(rotated)).rejects.toMatchObject({ reason: 'unknown_key' });
    expect(fetch.count(JWKS_URL)).toBe(1);
    clock.advance(s.jwksCooldownMs);
    await expect(verifier.verify(rotated)).resolves.toMatchObject({ sub: 'user_01ABC' });
    expect(fetch.count(JWKS_URL)).toBe(2);
    await expect(verifier.verify(await sign(claims(), other))).resolves.toBeDefined();
    expect(fetch.count(JWKS_URL)).toBe(2);
  });

  it('picks up a rotated-in key at once when the last fetch is older than the cooldown', async () => {
    await verifier.verify(await sign(claims(), key));
    clock.advance(s.jwksCooldownMs + 1);
    fetch.documents.set(JWKS_URL, jwks(key, other));
    await expect(verifier.verify(await sign(claims(), other))).resolves.toBeDefined();
    expect(fetch.count(JWKS_URL)).toBe(2);
  });

  it('while AuthKit is unreachable: unknown kids are "unavailable" at once, AuthKit asked at most once per refetch interval', async () => {
    await verifier.verify(await sign(claims(), key));
    clock.advance(s.jwksCooldownMs);
    fetch.failing = true;
    const rotated = await sign(claims(), other);
    await expect(verifier.verify(rotated)).rejects.toBeInstanceOf(KeySetUnavailableError); // fetch 2 fails
    expect(fetch.count(JWKS_URL)).toBe(2);
    const flood = launch(verifier, [rotated, ...(await madeUp(20))]);
    expect(await until(() => flood.outcomes.length === 21)).toBe(true);
    expect(new Set(flood.outcomes)).toEqual(new Set(['unavailable']));
    expect(fetch.count(JWKS_URL)).toBe(2);
    // the cached key keeps verifying meanwhile
    await expect(verifier.verify(await sign(claims(), key))).resolves.toBeDefined();
    // AuthKit back, a refetch interval later: the rotated key is fetched and accepted
    fetch.failing = false;
    fetch.documents.set(JWKS_URL, jwks(key, other));
    clock.advance(s.jwksRefetchIntervalMs);
    await expect(verifier.verify(rotated)).resolves.toBeDefined();
    expect(fetch.count(JWKS_URL)).toBe(3);
  });

  it('before any key set: at most jwksMaxWaiting requests wait for the first fetch, the rest are "unavailable" at once', async () => {
    build({ jwksMaxWaiting: 5 });
    fetch.hold();
    const tokens = await Promise.all(Array.from({ length: 12 }, () => sign(claims(), key)));
    const first = launch(verifier, tokens);
    expect(await until(() => first.outcomes.length === 7)).toBe(true);
    expect(new Set(first.outcomes)).toEqual(new Set(['unavailable']));
    expect(fetch.count(JWKS_URL)).toBe(1);
    fetch.open();
    await first.done();
    expect(first.outcomes.filter((o) => o === 'accepted')).toHaveLength(5);
  });
});
