import { lenientRoles, lenientTenants, parseLegacyUser } from './legacy-user';

describe('parseLegacyUser', () => {
  it('maps the INTERFACE.md user JSON, trimming and dropping empty names', () => {
    expect(
      parseLegacyUser({ id: ' u1 ', email: 'a@b.co', first_name: 'Ann', last_name: '', extra: 'ignored' }),
    ).toEqual({ ok: true, user: { id: 'u1', email: 'a@b.co', firstName: 'Ann' } });
  });

  it('accepts integer ids as strings and null names', () => {
    expect(parseLegacyUser({ id: 42, email: 'a@b.co', first_name: null })).toEqual({
      ok: true,
      user: { id: '42', email: 'a@b.co' },
    });
  });

  it('keeps metadata within AuthKit limits', () => {
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', metadata: { team: 'x' } })).toMatchObject({
      ok: true,
      user: { metadata: { team: 'x' } },
    });
    const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', metadata: tooMany }).ok).toBe(false);
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', metadata: { ['k'.repeat(41)]: 'v' } }).ok).toBe(false);
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', metadata: { k: 'v'.repeat(601) } }).ok).toBe(false);
  });

  it.each([0, -1, true, null, [], '', 'string', {}])('refuses the hostile body %p', (body) => {
    expect(parseLegacyUser(body).ok).toBe(false);
  });

  it.each([
    [{ id: '', email: 'a@b.co' }, /^id/],
    [{ id: 'x'.repeat(256), email: 'a@b.co' }, /^id/],
    [{ id: 'a\nb', email: 'a@b.co' }, /^id/],
    [{ id: -1, email: 'a@b.co' }, /^id/],
    [{ id: 1.5, email: 'a@b.co' }, /^id/],
    [{ id: true, email: 'a@b.co' }, /^id/],
    [{ id: 'u' }, /^email/],
    [{ id: 'u', email: 'not-an-email' }, /^email/],
    [{ id: 'u', email: ['a@b.co'] }, /^email/],
    [{ id: 'u', email: 'a@b.co', first_name: 7 }, /^first_name/],
  ])('names the bad field of %p', (body, field) => {
    const result = parseLegacyUser(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatch(field);
  });
});

describe('roles and tenants in the user JSON (session-introspection: the protocol is strict)', () => {
  it('keeps roles and tenants, trimmed and deduplicated, integer tenant ids as strings', () => {
    expect(
      parseLegacyUser({
        id: 'u',
        email: 'a@b.co',
        roles: [' admin', 'reader', 'admin'],
        tenants: [
          { id: 't1', name: ' Acme ' },
          { id: 2, name: '' },
          { id: 't1', name: 'Acme again' },
        ],
      }),
    ).toEqual({
      ok: true,
      user: {
        id: 'u',
        email: 'a@b.co',
        roles: ['admin', 'reader'],
        tenants: [
          { id: 't1', name: 'Acme' },
          { id: '2', name: '2' },
        ],
      },
    });
  });

  it('leaves them out when the answer says nothing (null or absent), keeps empty lists', () => {
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', roles: null, tenants: null })).toEqual({
      ok: true,
      user: { id: 'u', email: 'a@b.co' },
    });
    expect(parseLegacyUser({ id: 'u', email: 'a@b.co', roles: [], tenants: [] })).toEqual({
      ok: true,
      user: { id: 'u', email: 'a@b.co', roles: [], tenants: [] },
    });
  });

  it.each([
    [{ roles: 'admin' }, /^roles/],
    [{ roles: ['two words'] }, /^roles/],
    [{ roles: ['a,b'] }, /^roles/],
    [{ roles: [7] }, /^roles/],
    [{ roles: Array.from({ length: 101 }, (_, i) => `r${i}`) }, /^roles/],
    [{ tenants: { id: 't', name: 'T' } }, /^tenants/],
    [{ tenants: [{ id: '', name: 'T' }] }, /^tenants/],
    [{ tenants: [{ id: 't' }] }, /^tenants/],
    [{ tenants: ['t'] }, /^tenants/],
  ])('refuses the malformed %p (legacy_invalid_user names the field)', (extra, field) => {
    const result = parseLegacyUser({ id: 'u', email: 'a@b.co', ...extra });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatch(field);
  });
});

describe('lenientRoles / lenientTenants (claims not written for the bridge)', () => {
  it('drop bad entries one by one and say nothing for a non-array', () => {
    expect(lenientRoles(['admin', 'x y', 3, 'admin', ' reader '])).toEqual(['admin', 'reader']);
    expect(lenientRoles('admin')).toBeUndefined();
    expect(lenientTenants([{ id: 't', name: 'T' }, { id: 't', name: 'Again' }, 'x', { id: '' }])).toEqual([
      { id: 't', name: 'T' },
    ]);
    expect(lenientTenants({ id: 't', name: 'T' })).toBeUndefined();
  });
});
