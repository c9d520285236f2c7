import { randomUUID } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { ConflictError } from '../src/common/errors';
import { ConfigModule } from '../src/config/config.module';
import { openDatabase, type DatabaseHandle } from '../src/database/adapter';
import { DatabaseModule } from '../src/database/database.module';
import { applyMigrations, readMigrationList } from '../src/database/migrator';
import { withPrismaErrors } from '../src/database/prisma-errors';
import { PrismaService } from '../src/database/prisma.service';
import { testConfig } from './helpers/config';
import { createTestDatabase, usingPostgres, type TestDatabase } from './helpers/database';

const engine = usingPostgres() ? 'PostgreSQL' : 'PGlite';

describe(`database on ${engine}`, () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    db = await createTestDatabase({ autoMigrate: false });
    handle = openDatabase(db.database);
  });
  afterAll(async () => {
    await handle.close();
    await db.dispose();
  });

  it('applies every migration from empty, recording them in _prisma_migrations, and a second run is a no-op', async () => {
    const expected = readMigrationList().migrationDirectories.map((d) => d.path);
    expect(expected.length).toBeGreaterThan(0);
    expect(await applyMigrations(handle.factory)).toEqual(expected);
    expect(await applyMigrations(handle.factory)).toEqual([]);

    const adapter = await handle.factory.connect();
    try {
      const rows = await adapter.queryRaw({
        sql: 'SELECT migration_name, finished_at IS NOT NULL AS done, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
        args: [],
        argTypes: [],
      });
      expect(rows.rows.map((r) => r[0])).toEqual(expected);
      expect(rows.rows.every((r) => r[1] === true && r[2] === null)).toBe(true);
    } finally {
      if (db.database.kind === 'postgres') await adapter.dispose();
    }
  });
});

describe(`Prisma client on ${engine}`, () => {
  let db: TestDatabase;
  let prisma: PrismaService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(testConfig({}, db.database)), DatabaseModule],
    }).compile();
    await moduleRef.init();
    prisma = moduleRef.get(PrismaService);
    close = () => moduleRef.close();
  });
  afterAll(async () => {
    await close();
    await db.dispose();
  });

  it('round-trips a login transaction', async () => {
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + 600_000);
    await prisma.loginTransaction.create({
      data: {
        id,
        externalAuthId: 'ext_auth_01ABC',
        externalAuthIdHash: 'hash-of-ext_auth_01ABC',
        browserBinding: 'hash',
        strategy: 'local',
        expiresAt,
      },
    });
    const row = await prisma.loginTransaction.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({
      externalAuthId: 'ext_auth_01ABC',
      status: 'pending',
      strategy: 'local',
      expiresAt,
    });
    const updated = await prisma.loginTransaction.update({
      where: { id },
      data: { status: 'completed', completedAt: new Date(), legacyUserId: 'u1' },
    });
    expect(updated.status).toBe('completed');
  });

  it('round-trips an audit row', async () => {
    const row = await prisma.authorizationAudit.create({
      data: {
        id: randomUUID(),
        strategy: 'local',
        outcome: 'failure',
        errorCode: 'email_not_available',
        ip: '127.0.0.1',
        userAgent: 'jest',
        externalAuthIdHint: 'ext…ABC',
      },
    });
    expect(await prisma.authorizationAudit.findUniqueOrThrow({ where: { id: row.id } })).toEqual(row);
  });

  it('round-trips a user link', async () => {
    await prisma.userLink.create({
      data: { legacyUserId: 'legacy-1', email: 'a@example.com', workosUserId: 'user_1' },
    });
    expect(await prisma.userLink.findUniqueOrThrow({ where: { workosUserId: 'user_1' } })).toMatchObject({
      legacyUserId: 'legacy-1',
      email: 'a@example.com',
    });
  });

  it('round-trips an HTTP session with JSON data', async () => {
    const data = { txn: 'abc', nested: { n: 1, list: [true, null] } };
    await prisma.httpSession.create({ data: { idHash: 'h1', data, expiresAt: new Date(Date.now() + 1000) } });
    expect((await prisma.httpSession.findUniqueOrThrow({ where: { idHash: 'h1' } })).data).toEqual(data);
  });

  it('round-trips a local user', async () => {
    const user = await prisma.localUser.create({
      data: { id: randomUUID(), email: 'alice@example.com', passwordHash: '$argon2id$…', firstName: 'Alice' },
    });
    expect(await prisma.localUser.findUniqueOrThrow({ where: { email: 'alice@example.com' } })).toEqual(user);
    expect(user.disabled).toBe(false);
  });

  it('maps a unique violation to a ConflictError, not a raw Prisma error', async () => {
    const create = () =>
      withPrismaErrors(() =>
        prisma.localUser.create({ data: { id: randomUUID(), email: 'dup@example.com', passwordHash: 'x' } }),
      );
    await create();
    const err = await create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ code: 'conflict', status: 409 });
    expect((err as Error).message).toBe('A record with this email already exists.');
  });
});
