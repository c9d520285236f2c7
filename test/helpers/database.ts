import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { AppConfig } from '../../src/config/app-config';

export interface TestDatabase {
  database: AppConfig['database'];
  /** Drops the throwaway PostgreSQL database (PGlite in memory needs nothing). */
  dispose(): Promise<void>;
  /** Removes the database while the app still uses it (to test outages). PostgreSQL only. */
  drop(): Promise<void>;
}

/** The database a test suite runs on: PostgreSQL when TEST_DATABASE_URL is set, else in-memory PGlite. */
export const usingPostgres = (): boolean => Boolean(process.env.TEST_DATABASE_URL);

/**
 * A fresh, empty database for one test file: a throwaway PostgreSQL database created from
 * TEST_DATABASE_URL (so suites never see each other's rows), or an in-memory PGlite.
 */
export async function createTestDatabase(options: { autoMigrate?: boolean } = {}): Promise<TestDatabase> {
  const autoMigrate = options.autoMigrate ?? true;
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    return {
      database: { kind: 'pglite', dataDir: 'memory://', autoMigrate },
      dispose: async () => undefined,
      drop: async () => {
        throw new Error('drop() needs PostgreSQL');
      },
    };
  }
  const name = `cb_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await admin(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  return { database: { kind: 'postgres', url: url.toString(), autoMigrate }, dispose: drop, drop };
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
