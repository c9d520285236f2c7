/**
 * What the process-level suites (process.e2e.ts, load.e2e.ts, bench/soak.e2e.ts) share: a
 * database that outlives a server process, the bridge's environment against the AuthKit
 * emulator, an authorize URL for the pre-registered client, and a way to read the database
 * after the server stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { emulatorEnv } from '../helpers/config';
import { createTestDatabase, usingPostgres } from '../helpers/database';
import type { Browser } from '../login/browser';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  clientAuthorize,
  externalAuthIdOf,
  freePort,
  isClientRedirect,
} from '../login/harness';

export interface DurableDatabase {
  /** DATABASE_URL (+ auto-migrate) or PGLITE_DATA_DIR, for the server's environment. */
  env: Record<string, string>;
  /** Runs one query; with PGlite only while no server holds the folder. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  dispose(): Promise<void>;
}

/** A database that outlives one server process: a throwaway PostgreSQL database, or PGlite in a folder. */
export async function durableDatabase(): Promise<DurableDatabase> {
  if (usingPostgres()) {
    const db = await createTestDatabase();
    if (db.database.kind !== 'postgres') throw new Error('expected PostgreSQL');
    const url = db.database.url;
    return {
      env: { DATABASE_URL: url, DATABASE_AUTO_MIGRATE: 'true' },
      query: async <T>(sql: string) => {
        const client = new Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query(sql)).rows as T[];
        } finally {
          await client.end();
        }
      },
      dispose: db.dispose,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'cb-pglite-'));
  return {
    env: { PGLITE_DATA_DIR: dir },
    query: async <T>(sql: string) => {
      const pg = await PGlite.create(dir);
      try {
        return (await pg.query<T>(sql)).rows;
      } finally {
        await pg.close();
      }
    },
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface BridgeSetup {
  env: Record<string, string>;
  /** http://127.0.0.1:$PORT, also PUBLIC_URL. */
  url: string;
  emulator: RunningEmulator;
}

/** An emulator, and the bridge's environment against it: non-demo, as in production but over http on loopback. */
export async function bridgeEnv(extra: Record<string, string>): Promise<BridgeSetup> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const emulator = await startEmulator({
    loginUri: `${url}/auth/login`,
    apiKey: `sk_test_${randomBytes(12).toString('hex')}`,
    enableTestControl: true,
    clients: [{ clientId: CLIENT_ID, redirectUris: [CLIENT_REDIRECT] }],
  });
  const env = {
    PORT: String(port),
    PUBLIC_URL: url,
    ...emulatorEnv(emulator),
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    ...extra,
  };
  return { env, url, emulator };
}

/** An authorize URL for the pre-registered client, with PKCE and the MCP resource. */
export const authorize = (emulator: RunningEmulator, bridgeUrl: string, scope?: string) =>
  clientAuthorize(emulator.url, { scope, resource: `${bridgeUrl}/mcp` });

export { isClientRedirect };

/** The external_auth_id of the last Login URI this browser visited. */
export const lastExternalAuthId = (b: Browser): string =>
  externalAuthIdOf(b.history.findLast((u) => u.includes('external_auth_id='))!);
