import { memoryGrantRegistry } from '../../test/helpers/memory-grant-store';
import { testConfig } from '../../test/helpers/config';
import { GrantRegistry, GrantRevokedError } from './grant-registry.service';
import type { GrantFirstSight, RevocationEvent } from './grant.store';

const sight = (workosUserId: string, legacyUserId: string | null, sessionId = 's1'): GrantFirstSight => ({
  workosUserId,
  clientId: 'client',
  sessionId,
  legacyUserId,
  scopes: ['openid'],
  issuedAtMs: 0,
});

const userWide = (legacyUserId: string, createdAt: Date, kind = 'revoke'): RevocationEvent => ({
  seq: 1n,
  kind,
  grantId: null,
  legacyUserId,
  createdAt,
});

describe('GrantRegistry, news about one legacy user', () => {
  const later = () => new Date(Date.now() + 60_000);

  it('a user-wide revocation ends that user’s grants recorded before it, and no one else’s', async () => {
    const { registry } = memoryGrantRegistry(testConfig());
    const a1 = await registry.admit(sight('wu_a', 'legacy-a'), Date.now());
    const a2 = await registry.admit(sight('wu_a', 'legacy-a', 's2'), Date.now());
    const b = await registry.admit(sight('wu_b', 'legacy-b'), Date.now());
    const unlinked = await registry.admit(sight('wu_c', null), Date.now());
    registry.apply([userWide('legacy-a', later())]);
    expect([a1.revoked, a2.revoked, b.revoked, unlinked.revoked]).toEqual([true, true, false, false]);
    await expect(registry.admit(sight('wu_a', 'legacy-a'), Date.now())).rejects.toBeInstanceOf(
      GrantRevokedError,
    );
  });

  it('keeps a grant recorded after the revocation (a newer sign-in)', async () => {
    const { registry } = memoryGrantRegistry(testConfig());
    const grant = await registry.admit(sight('wu_a', 'legacy-a'), Date.now());
    registry.apply([userWide('legacy-a', new Date(grant.createdAtMs - 1))]);
    expect(grant.revoked).toBe(false);
  });

  it('identity news makes only that user’s callers be built again', async () => {
    const { registry } = memoryGrantRegistry(testConfig());
    const a = await registry.admit(sight('wu_a', 'legacy-a'), Date.now());
    const b = await registry.admit(sight('wu_b', 'legacy-b'), Date.now());
    const told: string[] = [];
    registry.onUserChanged((id) => told.push(id));
    registry.apply([userWide('legacy-a', later(), 'identity')]);
    expect([a.identityVersion, b.identityVersion, told]).toEqual([1, 0, ['legacy-a']]);
  });

  it('forgets an evicted grant for user-wide news too', async () => {
    const { registry } = memoryGrantRegistry(testConfig());
    const first = await registry.admit(sight('wu_first', 'legacy-a'), Date.now());
    for (let i = 0; i < GrantRegistry.MAX_GRANTS; i++)
      await registry.admit(sight(`wu_${i}`, `legacy-${i % 7}`), Date.now());
    expect(first.evicted).toBe(true);
    registry.apply([userWide('legacy-a', later(), 'identity')]);
    expect(first.identityVersion).toBe(0);
    const again = await registry.admit(sight('wu_first', 'legacy-a'), Date.now());
    expect(again).not.toBe(first);
    registry.apply([userWide('legacy-a', later())]);
    expect([again.revoked, first.revoked]).toEqual([true, false]);
  });
});
