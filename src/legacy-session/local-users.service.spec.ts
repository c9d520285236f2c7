import type { LocalUser, PrismaClient } from '../generated/prisma/client';
import { DomainError } from '../common/errors';
import { checkRoles, checkTenants, LocalUsersService } from './local-users.service';
import { PasswordHasher } from './password-hasher';

function user(over: Partial<LocalUser> = {}): LocalUser {
  return {
    id: 'usr_1',
    email: 'a@b.co',
    passwordHash: 'hash:right',
    firstName: 'Ann',
    lastName: null,
    disabled: false,
    roles: [],
    tenants: [],
    createdAt: new Date(),
    updatedAt: new Date(),
    ...over,
  };
}

function setup(rows: LocalUser[]) {
  const hasher = {
    hash: jest.fn(async (p: string) => `hash:${p}`),
    verify: jest.fn(async (h: string, p: string) => h === `hash:${p}`),
  };
  const prisma = {
    localUser: {
      findUnique: jest.fn(
        async ({ where }: { where: { email?: string; id?: string } }) =>
          rows.find((r) => (where.email ? r.email === where.email : r.id === where.id)) ?? null,
      ),
    },
  };
  const service = new LocalUsersService(
    prisma as unknown as PrismaClient,
    hasher as unknown as PasswordHasher,
  );
  return { service, hasher, prisma };
}

describe('LocalUsersService.verifyPassword', () => {
  it('accepts the right password, matching the email case-insensitively', async () => {
    const { service } = setup([user()]);
    await expect(service.verifyPassword(' A@B.CO ', 'right')).resolves.toEqual({
      ok: true,
      user: { id: 'usr_1', email: 'a@b.co', firstName: 'Ann', roles: [], tenants: [] },
    });
  });

  it('hands over the roles and tenants of the user table', async () => {
    const tenants = [
      { id: 'acme', name: 'Acme' },
      { id: 'globex', name: 'Globex' },
    ];
    const { service } = setup([user({ roles: ['admin'], tenants })]);
    await expect(service.verifyPassword('a@b.co', 'right')).resolves.toMatchObject({
      ok: true,
      user: { roles: ['admin'], tenants },
    });
    await expect(service.findActive('usr_1')).resolves.toMatchObject({ roles: ['admin'], tenants });
  });

  it('does the same hashing work for an unknown email as for a wrong password', async () => {
    const { service, hasher } = setup([user()]);
    await expect(service.verifyPassword('nobody@b.co', 'right')).resolves.toEqual({
      ok: false,
      code: 'invalid_credentials',
    });
    expect(hasher.verify).toHaveBeenCalledTimes(1);
    hasher.verify.mockClear();
    await expect(service.verifyPassword('a@b.co', 'wrong')).resolves.toEqual({
      ok: false,
      code: 'invalid_credentials',
    });
    expect(hasher.verify).toHaveBeenCalledTimes(1);
  });

  it('reveals a disabled account only to someone who knows its password', async () => {
    const { service } = setup([user({ disabled: true })]);
    await expect(service.verifyPassword('a@b.co', 'wrong')).resolves.toEqual({
      ok: false,
      code: 'invalid_credentials',
    });
    await expect(service.verifyPassword('a@b.co', 'right')).resolves.toEqual({
      ok: false,
      code: 'user_disabled',
      userId: 'usr_1',
    });
  });

  it('refuses absurdly long passwords without hashing them', async () => {
    const { service, hasher } = setup([user()]);
    await expect(service.verifyPassword('a@b.co', 'x'.repeat(1025))).resolves.toMatchObject({ ok: false });
    expect(hasher.verify).not.toHaveBeenCalled();
  });

  it('findActive hides disabled users', async () => {
    const { service } = setup([user({ disabled: true })]);
    await expect(service.findActive('usr_1')).resolves.toBeNull();
  });
});

describe('LocalUsersService.create', () => {
  it.each([
    ['not-an-email', 'long-enough', 'invalid_email'],
    ['a@b.co', 'short', 'weak_password'],
  ])('refuses %s / %s', async (email, password, code) => {
    const { service } = setup([]);
    const err = await service.create({ email, password }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(code);
  });
});

describe('PasswordHasher', () => {
  it('hashes with argon2id and verifies', async () => {
    const hasher = new PasswordHasher();
    const h = await hasher.hash('correct horse');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(hasher.verify(h, 'correct horse')).resolves.toBe(true);
    await expect(hasher.verify(h, 'wrong')).resolves.toBe(false);
    await expect(hasher.verify('not a hash', 'x')).resolves.toBe(false);
  });
});

describe('checkRoles / checkTenants (what users:add and the demo may set)', () => {
  it('accepts role names and tenants, trimmed, duplicates of roles dropped', () => {
    expect(checkRoles([' admin', 'reader', 'admin'])).toEqual(['admin', 'reader']);
    expect(checkRoles([])).toEqual([]);
    expect(checkTenants([{ id: ' acme ', name: ' Acme Inc. ' }])).toEqual([
      { id: 'acme', name: 'Acme Inc.' },
    ]);
  });

  it.each([[''], ['two words'], ['a,b'], ['x'.repeat(101)], ['tab\there']])('refuses the role %p', (role) => {
    expect(() => checkRoles([role])).toThrow(DomainError);
    expect(() => checkRoles([role])).toThrow(/is not a role name/);
  });

  it.each([
    [[{ id: '', name: 'X' }], /is not a tenant/],
    [[{ id: 'x', name: ' ' }], /is not a tenant/],
    [[{ id: 'a\nb', name: 'X' }], /is not a tenant/],
    [[{ id: 'x'.repeat(256), name: 'X' }], /is not a tenant/],
    [
      [
        { id: 'a', name: 'A' },
        { id: 'a', name: 'B' },
      ],
      /appears twice/,
    ],
  ])('refuses the tenants %p', (tenants, message) => {
    expect(() => checkTenants(tenants)).toThrow(message);
  });
});
