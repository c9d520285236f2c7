import { FakeClock } from '../../../test/mcp/keys';
import type { Clock } from '../clock';
import { IdentityService } from './identity.service';
import type { DirectoryUser, UserDirectory } from './user-directory';
import type { LinkedUser, UserLinkRepository } from './user-link.repository';

describe('IdentityService', () => {
  let clock: FakeClock;
  let links: { findByWorkosUserId: jest.Mock; link: jest.Mock };
  let directory: { getUser: jest.Mock };
  let service: IdentityService;

  const ada: LinkedUser = {
    legacyUserId: 'legacy-1',
    email: 'ada@example.com',
    firstName: 'Ada',
    lastName: 'L',
    roles: ['admin'],
    tenants: [{ id: 't1', name: 'Acme' }],
    active: true,
  };
  const workosAda: DirectoryUser = {
    id: 'user_1',
    email: 'ada@example.com',
    externalId: 'legacy-1',
    firstName: 'Ada',
    lastName: 'Lovelace',
  };

  beforeEach(() => {
    clock = new FakeClock();
    links = { findByWorkosUserId: jest.fn(async () => null), link: jest.fn(async (_sub, user) => user) };
    directory = { getUser: jest.fn(async () => null) };
    service = new IdentityService(
      links as unknown as UserLinkRepository,
      directory as unknown as UserDirectory,
      clock as unknown as Clock,
    );
  });

  it('uses the user link the login bridge recorded, without asking WorkOS', async () => {
    links.findByWorkosUserId.mockResolvedValue(ada);
    const { identity, definitive } = await service.resolve('user_1');
    expect(identity).toEqual({
      legacyUserId: 'legacy-1',
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'L',
      roles: ['admin'],
      tenants: [{ id: 't1', name: 'Acme' }],
      active: true,
    });
    expect(definitive).toBe(true);
    expect(directory.getUser).not.toHaveBeenCalled();
  });

  it("falls back to the WorkOS user's external id and records the link", async () => {
    directory.getUser.mockResolvedValue(workosAda);
    links.link.mockResolvedValue({ ...ada, lastName: 'from-the-legacy-row' });
    const { identity } = await service.resolve('user_1');
    expect(links.link).toHaveBeenCalledWith('user_1', {
      legacyUserId: 'legacy-1',
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      roles: [],
      tenants: [],
      active: true,
    });
    expect(identity).toMatchObject({ legacyUserId: 'legacy-1', lastName: 'from-the-legacy-row' });
  });

  it('still answers when recording the link fails', async () => {
    directory.getUser.mockResolvedValue(workosAda);
    links.link.mockRejectedValue(new Error('unique constraint'));
    const { identity, definitive } = await service.resolve('user_1');
    expect(identity.legacyUserId).toBe('legacy-1');
    expect(definitive).toBe(true);
  });

  it('answers from memory afterwards (no database, no network) until the entry ages out', async () => {
    links.findByWorkosUserId.mockResolvedValue(ada);
    await service.resolve('user_1');
    await service.resolve('user_1');
    expect(links.findByWorkosUserId).toHaveBeenCalledTimes(1);
    clock.advance(IdentityService.FOUND_TTL_MS + 1);
    await service.resolve('user_1');
    expect(links.findByWorkosUserId).toHaveBeenCalledTimes(2);
  });

  it('shares one lookup between concurrent requests for the same user', async () => {
    let release!: (v: LinkedUser) => void;
    links.findByWorkosUserId.mockReturnValue(new Promise((r) => (release = r)));
    const all = Promise.all([
      service.resolve('user_1'),
      service.resolve('user_1'),
      service.resolve('user_1'),
    ]);
    release(ada);
    const results = await all;
    expect(links.findByWorkosUserId).toHaveBeenCalledTimes(1);
    expect(results.every((r) => r.identity.legacyUserId === 'legacy-1')).toBe(true);
  });

  it('knows no legacy id for a user WorkOS does not know, or one without an external id', async () => {
    expect((await service.resolve('user_gone')).identity.legacyUserId).toBeNull();
    directory.getUser.mockResolvedValue({ ...workosAda, externalId: null });
    const other = await service.resolve('user_2');
    expect(other).toMatchObject({
      identity: { legacyUserId: null, email: 'ada@example.com' },
      definitive: true,
    });
    expect(links.link).not.toHaveBeenCalled();
  });

  it('reports a failed lookup as not definitive and retries it soon', async () => {
    directory.getUser.mockRejectedValueOnce(new Error('WorkOS is down'));
    expect(await service.resolve('user_1')).toMatchObject({
      definitive: false,
      identity: { legacyUserId: null },
    });
    directory.getUser.mockResolvedValue(workosAda);
    expect((await service.resolve('user_1')).definitive).toBe(false); // within the 5 s back-off
    clock.advance(IdentityService.FAILED_TTL_MS + 1);
    expect(await service.resolve('user_1')).toMatchObject({
      definitive: true,
      identity: { legacyUserId: 'legacy-1' },
    });
  });
});
