/**
 * `db:migrate` is its own deployment step (a one-shot container, a CI job): it needs the database
 * variables and nothing else, even with NODE_ENV=production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, ensureBuilt, REPO_ROOT, spawnCaptured } from '../helpers/built-server';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

const MIGRATE_JS = join(REPO_ROOT, 'dist', 'src', 'cli', 'db-migrate.js');

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  db = await createTestDatabase({ autoMigrate: false });
  dir = mkdtempSync(join(tmpdir(), 'cb-migrate-'));
}, 180_000);
afterAll(async () => {
  await db.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const run = async (env: Record<string, string>) => {
  const proc = spawnCaptured(process.execPath, [MIGRATE_JS], {
    env: childEnv({ NODE_ENV: 'production', ...env }),
  });
  return { code: (await proc.exited).code, text: proc.text };
};

it('applies the migrations with only the database variable set, in production mode, then is up to date', async () => {
  const env: Record<string, string> =
    db.database.kind === 'postgres' ? { DATABASE_URL: db.database.url } : { PGLITE_DATA_DIR: dir };
  const first = await run(env);
  expect(first).toMatchObject({ code: 0 });
  expect(first.text).toMatch(/Applied to (PostgreSQL|PGlite).*access_lifecycle/s);
  const again = await run(env);
  expect(again).toMatchObject({ code: 0 });
  expect(again.text).toMatch(/is up to date/);
});

it('refuses a malformed DATABASE_URL with the variable and the reason, and nothing else', async () => {
  const { code, text } = await run({ DATABASE_URL: 'mysql://nope' });
  expect(code).toBe(1);
  expect(text).toContain('DATABASE_URL');
  expect(text).not.toMatch(/WORKOS_API_KEY|SESSION_SECRET|PUBLIC_URL/);
});
