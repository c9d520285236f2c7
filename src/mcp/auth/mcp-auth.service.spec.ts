import { FakeClock } from '../../../test/mcp/keys';
import { loadConfig } from '../../config/app-config';
import type { Clock } from '../clock';
import type { IdentityLookup, IdentityService } from '../identity/identity.service';
import { mcpSettingsFrom } from '../mcp-settings';
import type { AccessTokenVerifier, VerifiedAccessToken } from './access-token-verifier';
import { bearerToken, McpAuthService } from './mcp-auth.service';
import { TokenRejectedError } from './token-errors';

const settings = mcpSettingsFrom(
  loadConfig({ PUBLIC_URL: 'https://bridge.example.com', AUTHKIT_DOMAIN: 'https://acme.authkit.app' }),
);

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenRejectedError);
    return (err as TokenRejectedError).reason;
  }
  throw new Error('expected a rejection');
}

describe('bearerToken', () => {
  it('takes the token of a Bearer header, scheme case-insensitive', () => {
    expect(bearerToken('Bearer abc.def.ghi', 100)).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi', 100)).toBe('abc.def.ghi');
    expect(bearerToken('BEARER   abc.def.ghi  ', 100)).toBe('abc.def.ghi');
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['Bearer', 'not_bearer'],
    ['Bearer ', 'malformed'],
    ['Basic dXNlcjpwYXNz', 'not_bearer'],
    ['Token abc', 'not_bearer'],
    ['abc.def.ghi', 'not_bearer'],
    ['Bearerabc', 'not_bearer'],
    [`Bearer ${'a'.repeat(200)}`, 'too_large'],
  ])('refuses %j as %s', (header, reason) => {
    expect(reasonOf(() => bearerToken(header, 100))).toBe(reason);
  });
});

describe('McpAuthService', () => {
  let clock: FakeClock;
  let verify: jest.Mock<Promise<VerifiedAccessToken>, [string]>;
  let resolve: jest.Mock<Promise<IdentityLookup>, [string]>;
  let service: McpAuthService;

  const verified = (exp: number): VerifiedAccessToken => ({
    sub: 'user_1',
    clientId: 'client_1',
    orgId: null,
    scopes: ['openid', 'email'],
    expiresAt: exp,
    claims: { sub: 'user_1', exp, email: 'claim@example.com' },
  });
  const found: IdentityLookup = {
    identity: { legacyUserId: 'legacy-1', email: 'ada@example.com', firstName: 'Ada', lastName: null },
    definitive: true,
  };

  beforeEach(() => {
    clock = new FakeClock();
    verify = jest.fn(async (_token: string) => verified(clock.seconds + 300));
    resolve = jest.fn(async (_sub: string) => found);
    service = new McpAuthService(
      settings,
      { verify } as unknown as AccessTokenVerifier,
      { resolve } as unknown as IdentityService,
      clock as unknown as Clock,
    );
  });

  it('builds the caller from the token and the linked identity', async () => {
    const caller = await service.authenticate('Bearer a.b.c');
    expect(caller).toMatchObject({
      sub: 'user_1',
      legacyUserId: 'legacy-1',
      email: 'ada@example.com',
      firstName: 'Ada',
      clientId: 'client_1',
      scopes: ['openid', 'email'],
    });
    expect(Object.isFrozen(caller)).toBe(true);
  });

  it('answers a token seen before from memory until it expires', async () => {
    const first = await service.authenticate('Bearer a.b.c');
    const second = await service.authenticate('Bearer a.b.c');
    expect(second).toBe(first);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(resolve).toHaveBeenCalledTimes(1);
    await service.authenticate('Bearer x.y.z');
    expect(verify).toHaveBeenCalledTimes(2);
    clock.advance(301_000);
    await service.authenticate('Bearer a.b.c');
    expect(verify).toHaveBeenCalledTimes(3);
  });

  it('re-verifies a long-lived token at least every five minutes', async () => {
    verify.mockImplementation(async () => verified(clock.seconds + 3600));
    await service.authenticate('Bearer a.b.c');
    clock.advance(5 * 60_000 + 1);
    await service.authenticate('Bearer a.b.c');
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('does not remember a caller built while the identity lookup failed', async () => {
    resolve.mockResolvedValueOnce({
      identity: { legacyUserId: null, email: null, firstName: null, lastName: null },
      definitive: false,
    });
    const degraded = await service.authenticate('Bearer a.b.c');
    expect(degraded.legacyUserId).toBeNull();
    expect(degraded.email).toBe('claim@example.com');
    const healed = await service.authenticate('Bearer a.b.c');
    expect(healed.legacyUserId).toBe('legacy-1');
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('passes refusals through and remembers nothing', async () => {
    verify.mockRejectedValue(new TokenRejectedError('expired'));
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'expired' });
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'expired' });
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('keeps the cache bounded', async () => {
    for (let i = 0; i < McpAuthService.MAX_CACHED_TOKENS + 5; i++)
      await service.authenticate(`Bearer t.${i}.x`);
    expect((service as unknown as { cache: Map<string, unknown> }).cache.size).toBe(
      McpAuthService.MAX_CACHED_TOKENS,
    );
  });
});
