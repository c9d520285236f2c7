import type { NestExpressApplication } from '@nestjs/platform-express';
import { GrantStore } from '../../src/access/grant.store';
import { runUsersAdd, type UsersAddIo } from '../../src/cli/users-add';
import { PrismaService } from '../../src/database/prisma.service';
import { UserStatusStore } from '../../src/legacy-status/user-status.store';
import { DEMO_READER, DEMO_USER, DemoUserSeeder } from '../../src/legacy-session/demo-user.seeder';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { BridgeSessionService } from '../../src/sessions/bridge-session.service';
import { startApp } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/** Local users, sessions and rate limits on a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL). */
describe('local users, bridge sessions and rate limits (database)', () => {
  let db: TestDatabase;
  let server: { app: NestExpressApplication; close(): Promise<void> };
  let users: LocalUsersService;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startApp(testConfig({}, db.database)); // demo mode, local strategy
    users = server.app.get(LocalUsersService);
  });
  afterAll(async () => {
    await server.close();
    await db.dispose();
  });

  function io(passwordLine = 'a-good-password') {
    const lines: string[] = [];
    const fake: UsersAddIo = { readPassword: async () => passwordLine, print: (l) => lines.push(l) };
    return { fake, lines };
  }

  describe('npm run users:add', () => {
    it('adds a user with an argon2id hash, then refuses the same email again', async () => {
      const { fake, lines } = io();
      await expect(
        runUsersAdd(['--email', 'Frank@Example.com', '--first-name', 'Frank'], users, fake),
      ).resolves.toBe(0);
      expect(lines[0]).toMatch(/^Added frank@example\.com \(id usr_[0-9a-f]{32}\)\.$/);
      const row = await server.app
        .get(PrismaService)
        .localUser.findUnique({ where: { email: 'frank@example.com' } });
      expect(row).toMatchObject({ firstName: 'Frank', disabled: false });
      expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
      await expect(users.verifyPassword('frank@example.com', 'a-good-password')).resolves.toMatchObject({
        ok: true,
      });

      const again = io();
      await expect(runUsersAdd(['--email', 'frank@example.com'], users, again.fake)).resolves.toBe(1);
      expect(again.lines[0]).toBe('A user with the email frank@example.com already exists.');
    });

    it('generates and prints a password on request, resets it, disables and enables', async () => {
      const { fake, lines } = io();
      await expect(
        runUsersAdd(['--email', 'gina@example.com', '--generate-password'], users, fake),
      ).resolves.toBe(0);
      const generated = lines[1].replace('Password: ', '');
      await expect(users.verifyPassword('gina@example.com', generated)).resolves.toMatchObject({ ok: true });

      await runUsersAdd(
        ['--email', 'gina@example.com', '--reset-password'],
        users,
        io('another-password').fake,
      );
      await expect(users.verifyPassword('gina@example.com', 'another-password')).resolves.toMatchObject({
        ok: true,
      });

      await runUsersAdd(['--email', 'gina@example.com', '--disable'], users, io().fake);
      await expect(users.verifyPassword('gina@example.com', 'another-password')).resolves.toMatchObject({
        code: 'user_disabled',
      });
      await runUsersAdd(['--email', 'gina@example.com', '--enable'], users, io().fake);
      await expect(users.verifyPassword('gina@example.com', 'another-password')).resolves.toMatchObject({
        ok: true,
      });
    });

    it.each([
      [[], 2, /^Usage/],
      [['--email', 'x@example.com', '--bogus'], 2, /Unknown option/],
      [['--email', 'not-an-email'], 1, /not an email address/],
      [['--email', 'nobody@example.com', '--disable'], 1, /no user with the email/],
    ])('answers %p with exit code %i', async (argv, code, message) => {
      const { fake, lines } = io();
      await expect(runUsersAdd(argv, users, fake)).resolves.toBe(code);
      expect(lines.join('\n')).toMatch(message);
    });

    describe('roles and tenants', () => {
      const prisma = () => server.app.get(PrismaService);
      const stores = () => [new GrantStore(prisma()), new UserStatusStore(prisma())] as const;
      const rowOf = (email: string) =>
        prisma().localUser.findUniqueOrThrow({
          where: { email },
          select: { id: true, roles: true, tenants: true, disabled: true },
        });
      const identityEvents = (legacyUserId: string) =>
        prisma().grantRevocation.count({ where: { kind: 'identity', legacyUserId } });

      it('adds a user with --role and --tenant (both repeatable) and prints them', async () => {
        const { fake, lines } = io();
        await expect(
          runUsersAdd(
            [
              ...['--email', 'ivy@example.com', '--role', 'admin', '--role', 'billing', '--role', 'admin'],
              ...['--tenant', 'acme=Acme Inc.', '--tenant', 'globex=Globex = Corp'],
            ],
            users,
            fake,
          ),
        ).resolves.toBe(0);
        expect(lines.slice(1)).toEqual([
          'Roles: admin, billing.',
          'Tenants: acme=Acme Inc., globex=Globex = Corp.',
        ]);
        await expect(rowOf('ivy@example.com')).resolves.toMatchObject({
          roles: ['admin', 'billing'],
          tenants: [
            { id: 'acme', name: 'Acme Inc.' },
            { id: 'globex', name: 'Globex = Corp' },
          ],
        });
        // What the local strategy hands over at sign-in.
        await expect(users.verifyPassword('ivy@example.com', 'a-good-password')).resolves.toMatchObject({
          ok: true,
          user: { roles: ['admin', 'billing'], tenants: [{ id: 'acme' }, { id: 'globex' }] },
        });
      });

      it('replaces roles and tenants of an existing user, and tells running instances when linked', async () => {
        await runUsersAdd(['--email', 'jo@example.com', '--role', 'reader'], users, io().fake);
        const { id } = await rowOf('jo@example.com');
        const [grants, status] = stores();

        // Never connected an AI application (no user link): set, nothing to tell.
        const first = io();
        await expect(
          runUsersAdd(
            ['--email', 'jo@example.com', '--set-roles', '--role', 'admin', '--role', 'auditor'],
            users,
            first.fake,
            grants,
            status,
          ),
        ).resolves.toBe(0);
        expect(first.lines).toEqual(['Roles of jo@example.com: admin, auditor.']);
        expect(await identityEvents(id)).toBe(0);

        // Linked (signed in through the bridge once): the new answer is recorded, instances are told.
        await prisma().userLink.create({
          data: {
            legacyUserId: id,
            email: 'jo@example.com',
            roles: ['admin', 'auditor'],
            checkedAt: new Date(),
          },
        });
        const second = io();
        await expect(
          runUsersAdd(
            [
              '--email',
              'jo@example.com',
              '--set-tenants',
              '--tenant',
              'acme=Acme',
              '--tenant',
              'globex=Globex',
            ],
            users,
            second.fake,
            grants,
            status,
          ),
        ).resolves.toBe(0);
        expect(second.lines).toEqual([
          'Tenants of jo@example.com: acme=Acme, globex=Globex.',
          'Running instances were told: connected AI applications see it at their next call.',
        ]);
        await expect(
          prisma().userLink.findUniqueOrThrow({
            where: { legacyUserId: id },
            select: { roles: true, tenants: true, active: true },
          }),
        ).resolves.toEqual({
          roles: ['admin', 'auditor'],
          tenants: [
            { id: 'acme', name: 'Acme' },
            { id: 'globex', name: 'Globex' },
          ],
          active: true,
        });
        expect(await identityEvents(id)).toBe(1);

        // --set-roles alone (no --role): none left; both at once.
        const third = io();
        await runUsersAdd(
          ['--email', 'jo@example.com', '--set-roles', '--set-tenants', '--tenant', 'acme=Acme'],
          users,
          third.fake,
          grants,
          status,
        );
        expect(third.lines.slice(0, 2)).toEqual([
          'Roles of jo@example.com: none.',
          'Tenants of jo@example.com: acme=Acme.',
        ]);
        await expect(rowOf('jo@example.com')).resolves.toMatchObject({
          roles: [],
          tenants: [{ id: 'acme', name: 'Acme' }],
        });
        expect(await identityEvents(id)).toBe(2);

        // The same again changes nothing: nobody is told.
        const same = io();
        await runUsersAdd(['--email', 'jo@example.com', '--set-roles'], users, same.fake, grants, status);
        expect(same.lines).toEqual(['Roles of jo@example.com: none.']);
        expect(await identityEvents(id)).toBe(2);

        // --disable records the user as inactive too (and ends their grants); --enable, active again.
        await runUsersAdd(['--email', 'jo@example.com', '--disable'], users, io().fake, grants, status);
        await expect(
          prisma().userLink.findUniqueOrThrow({ where: { legacyUserId: id }, select: { active: true } }),
        ).resolves.toEqual({ active: false });
        await runUsersAdd(['--email', 'jo@example.com', '--enable'], users, io().fake, grants, status);
        await expect(
          prisma().userLink.findUniqueOrThrow({ where: { legacyUserId: id }, select: { active: true } }),
        ).resolves.toEqual({ active: true });
      });

      it.each([
        [['--email', 'k@example.com', '--tenant', 'acme'], 1, /--tenant acme: write it as <id>=<name>/],
        [['--email', 'k@example.com', '--tenant', '=Acme'], 1, /write it as <id>=<name>/],
        [['--email', 'k@example.com', '--role', 'two words'], 1, /"two words" is not a role name/],
        [['--email', 'k@example.com', '--tenant', 'a=A', '--tenant', 'a=B'], 1, /appears twice/],
        [
          ['--email', 'jo@example.com', '--disable', '--role', 'admin'],
          2,
          /--role goes with adding a user or with --set-roles/,
        ],
        [
          ['--email', 'jo@example.com', '--set-roles', '--tenant', 'a=A'],
          2,
          /--tenant goes with adding a user or with --set-tenants/,
        ],
        [['--email', 'jo@example.com', '--set-roles', '--disable'], 2, /cannot be combined/],
        [['--email', 'jo@example.com', '--disable', '--enable'], 2, /contradict/],
        [['--email', 'jo@example.com', '--set-roles', '--first-name', 'Jo'], 2, /go with adding a user/],
        [['--email', 'nobody@example.com', '--set-roles', '--role', 'admin'], 1, /no user with the email/],
      ])('refuses %p with exit code %i', async (argv, code, message) => {
        const { fake, lines } = io();
        await expect(runUsersAdd(argv, users, fake, ...stores())).resolves.toBe(code);
        expect(lines.join('\n')).toMatch(message);
      });

      it('shows --role, --tenant, --set-roles and --set-tenants in the usage text', async () => {
        const { fake, lines } = io();
        await expect(runUsersAdd(['--help'], users, fake)).resolves.toBe(0);
        for (const flag of ['--role <name>', '--tenant <id>=<name>', '--set-roles', '--set-tenants'])
          expect(lines.join('\n')).toContain(flag);
      });
    });

    it('refuses a short password', async () => {
      const { fake, lines } = io('short');
      await expect(runUsersAdd(['--email', 'hal@example.com'], users, fake)).resolves.toBe(1);
      expect(lines[0]).toMatch(/8 to 1024 characters/);
    });
  });

  it('seeds the demo user in demo mode with the password it printed', async () => {
    const password = server.app.get(DemoUserSeeder).password!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{12}$/);
    await expect(users.verifyPassword(DEMO_USER.email, password)).resolves.toMatchObject({
      ok: true,
      user: { email: DEMO_USER.email, firstName: 'Demo', roles: ['admin'], tenants: DEMO_USER.tenants },
    });
    await expect(users.verifyPassword(DEMO_READER.email, password)).resolves.toMatchObject({
      ok: true,
      user: { roles: ['reader'], tenants: [{ id: 'acme', name: 'Acme' }] },
    });
  });

  it('keeps bridge sessions as hashes, honours expiry and destroys them', async () => {
    const sessions = server.app.get(BridgeSessionService);
    const { token } = await sessions.create({ userId: 'usr_x' }, 60);
    const rows = await server.app.get(PrismaService).httpSession.findMany();
    expect(rows.map((r) => r.idHash)).not.toContain(token);
    await expect(sessions.resolve(token)).resolves.toEqual({ userId: 'usr_x' });
    await expect(sessions.resolve('x'.repeat(43))).resolves.toBeNull();
    await expect(sessions.resolve('../../etc')).resolves.toBeNull();
    await sessions.destroy(token);
    await expect(sessions.resolve(token)).resolves.toBeNull();

    const expired = await sessions.create({ userId: 'usr_y' }, -1);
    await expect(sessions.resolve(expired.token)).resolves.toBeNull();
    expect(await sessions.purgeExpired()).toBeGreaterThanOrEqual(1);
  });

  it('counts rate-limit windows in the database, atomically, and starts a new window after one ends', async () => {
    const limiter = server.app.get(RateLimiterService);
    const key = RateLimiterService.key('test', 'k1');
    const hits = await Promise.all(Array.from({ length: 10 }, () => limiter.hit(key, 60)));
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(hits[0].retryAfterSeconds).toBeGreaterThan(50);
    expect(hits[0].retryAfterSeconds).toBeLessThanOrEqual(60);
    await expect(limiter.peek(key)).resolves.toMatchObject({ count: 10 });

    const short = RateLimiterService.key('test', 'k2');
    await limiter.hit(short, 1);
    await limiter.hit(short, 1);
    await new Promise((r) => setTimeout(r, 1100));
    await expect(limiter.peek(short)).resolves.toEqual({ count: 0, retryAfterSeconds: 0 });
    await expect(limiter.hit(short, 1)).resolves.toMatchObject({ count: 1 });
    await limiter.reset(key);
    await expect(limiter.peek(key)).resolves.toMatchObject({ count: 0 });
  });
});
