import { memoryGrantRegistry } from '../../../test/helpers/memory-grant-store';
import { FakeClock } from '../../../test/mcp/keys';
import type { GrantRegistry } from '../../access/grant-registry.service';
import { loadConfig } from '../../config/app-config';
import type { Clock } from '../clock';
import type { IdentityLookup, IdentityService } from '../identity/identity.service';
import { mcpSettingsFrom } from '../mcp-settings';
import type { AccessTokenVerifier, VerifiedAccessToken } from './access-token-verifier';
import { bearerToken, McpAuthService, tenantOf } from './mcp-auth.service';
import { TokenRejectedError } from './token-errors';
import { GrantsUnavailableError } from '../../access/grant-registry.service';
import type { UserRecheckService } from '../../legacy-status/user-recheck.service';

const config = loadConfig({
  PUBLIC_URL: 'https://bridge.example.com',
  AUTHKIT_DOMAIN: 'https://acme.authkit.app',
});
const settings = mcpSettingsFrom(config);

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
  let grants: ReturnType<typeof memoryGrantRegistry>;
  const recheck = jest.fn();
  const make = (env: Record<string, string> = {}) => {
    const cfg = loadConfig({
      ...env,
      PUBLIC_URL: 'https://bridge.example.com',
      AUTHKIT_DOMAIN: 'https://acme.authkit.app',
    });
    grants = memoryGrantRegistry(cfg);
    return new McpAuthService(
      settings,
      { verify } as unknown as AccessTokenVerifier,
      { resolve } as unknown as IdentityService,
      clock as unknown as Clock,
      grants.registry,
      grants.metrics,
      cfg,
      { noteCall: recheck } as unknown as UserRecheckService,
    );
  };

  const verified = (exp: number): VerifiedAccessToken => ({
    sub: 'user_1',
    clientId: 'client_1',
    orgId: null,
    scopes: ['openid', 'email'],
    expiresAt: exp,
    claims: { sub: 'user_1', exp, iat: exp - 300, sid: 'session_1', email: 'claim@example.com' },
  });
  const found: IdentityLookup = {
    identity: {
      legacyUserId: 'legacy-1',
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: null,
      roles: ['reader'],
      tenants: [],
      active: true,
    },
    definitive: true,
  };

  beforeEach(() => {
    clock = new FakeClock();
    verify = jest.fn(async (_token: string) => verified(clock.seconds + 300));
    resolve = jest.fn(async (_sub: string) => found);
    service = make();
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

  it('answers 503 (and remembers nothing) while nobody can say who the caller is', async () => {
    resolve.mockResolvedValueOnce({
      identity: {
        legacyUserId: null,
        email: null,
        firstName: null,
        lastName: null,
        roles: [],
        tenants: [],
        active: true,
      },
      definitive: false,
    });
    await expect(service.authenticate('Bearer a.b.c')).rejects.toBeInstanceOf(GrantsUnavailableError);
    const healed = await service.authenticate('Bearer a.b.c');
    expect(healed.legacyUserId).toBe('legacy-1');
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('does not remember a caller whose identity came from a degraded lookup', async () => {
    resolve.mockResolvedValueOnce({ ...found, definitive: false });
    await service.authenticate('Bearer a.b.c');
    await service.authenticate('Bearer a.b.c');
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('refuses a user with no legacy identity, unless MCP_ALLOW_UNLINKED_USERS=true', async () => {
    const unlinked: IdentityLookup = {
      identity: {
        legacyUserId: null,
        email: 'x@example.com',
        firstName: null,
        lastName: null,
        roles: [],
        tenants: [],
        active: true,
      },
      definitive: true,
    };
    resolve.mockResolvedValue(unlinked);
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'unlinked' });
    service = make({ MCP_ALLOW_UNLINKED_USERS: 'true' });
    const caller = await service.authenticate('Bearer a.b.c');
    expect(caller.legacyUserId).toBeNull();
    expect(caller.grantId).toMatch(/^grant_/);
  });

  it('records one grant per (sub, client_id, sid) and finds it again in memory after a refresh', async () => {
    const first = await service.authenticate('Bearer a.b.c');
    const refreshed = await service.authenticate('Bearer d.e.f');
    expect(refreshed.grantId).toBe(first.grantId);
    expect(grants.store.reads).toBe(1);
    verify.mockImplementation(async () => ({
      ...verified(clock.seconds + 300),
      claims: { sub: 'user_1', iat: clock.seconds, sid: 'session_2' },
    }));
    const other = await service.authenticate('Bearer g.h.i');
    expect(other.grantId).not.toBe(first.grantId);
    expect(grants.store.reads).toBe(2);
  });

  it('refuses a cached token, and a token refreshed later, as soon as its grant is revoked', async () => {
    const caller = await service.authenticate('Bearer a.b.c');
    grants.registry.apply([
      { seq: 1n, kind: 'revoke', grantId: caller.grantId, legacyUserId: null, createdAt: new Date() },
    ]);
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'revoked' });
    await expect(service.authenticate('Bearer refreshed.x.y')).rejects.toMatchObject({ reason: 'revoked' });
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('a user-wide revocation ends the grants recorded before it, not the ones after', async () => {
    const old = await service.authenticate('Bearer a.b.c');
    const at = new Date(Date.now() + 1);
    (grants.registry as GrantRegistry).apply([
      { seq: 1n, kind: 'revoke', grantId: null, legacyUserId: 'legacy-1', createdAt: at },
    ]);
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'revoked' });
    expect(old.grantId).toBeDefined();
    (grants.registry as GrantRegistry).apply([
      { seq: 2n, kind: 'revoke', grantId: null, legacyUserId: 'legacy-1', createdAt: new Date(0) },
    ]);
    verify.mockImplementation(async () => ({
      ...verified(clock.seconds + 300),
      claims: { sub: 'user_1', iat: clock.seconds, sid: 'session_new' },
    }));
    const fresh = await service.authenticate('Bearer n.e.w');
    expect(fresh.grantId).not.toBe(old.grantId);
  });

  it('builds a cached caller again once the legacy app changed its roles (identity news)', async () => {
    const forget = jest.fn();
    (service as unknown as { identities: { forgetLegacyUser: jest.Mock } }).identities.forgetLegacyUser =
      forget;
    const before = await service.authenticate('Bearer a.b.c');
    expect(before.roles).toEqual(['reader']);
    resolve.mockResolvedValue({ ...found, identity: { ...found.identity, roles: ['admin'] } });
    expect((await service.authenticate('Bearer a.b.c')).roles).toEqual(['reader']);
    grants.registry.apply([
      { seq: 3n, kind: 'identity', grantId: null, legacyUserId: 'legacy-1', createdAt: new Date() },
    ]);
    expect(forget).toHaveBeenCalledWith('legacy-1');
    const after = await service.authenticate('Bearer a.b.c');
    expect(after.roles).toEqual(['admin']);
    expect(after.grantId).toBe(before.grantId);
    expect(recheck).toHaveBeenCalledWith(
      expect.objectContaining({ legacyUserId: 'legacy-1' }),
      expect.any(Number),
    );
  });

  it('refuses a caller the legacy app reported inactive', async () => {
    resolve.mockResolvedValue({ ...found, identity: { ...found.identity, active: false } });
    await expect(service.authenticate('Bearer a.b.c')).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('passes the tenant chosen at consent, or the only one, and nothing else', () => {
    const acme = { id: 't1', name: 'Acme' };
    const globex = { id: 't2', name: 'Globex' };
    expect(tenantOf('t2', [acme, globex])).toEqual(globex);
    expect(tenantOf(undefined, [acme])).toEqual(acme);
    expect(tenantOf(undefined, [acme, globex])).toBeNull();
    expect(tenantOf('t9', [acme, globex])).toBeNull();
    expect(tenantOf(42, [acme])).toEqual(acme);
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
