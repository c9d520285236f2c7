import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { AppConfig } from '../config/app-config';
import { lockDataFolder } from './data-folder-lock';
import { countStatements, type StatementCounter } from './statement-counter';

export interface DatabaseHandle {
  kind: 'pglite' | 'postgres';
  factory: SqlMigrationAwareDriverAdapterFactory;
  /** Releases what the handle owns (the PGlite instance); the pg pool is closed by Prisma. */
  close(): Promise<void>;
}

/**
 * Picks the driver adapter from the configuration: PostgreSQL through `pg` with a pool, or
 * embedded PGlite (WASM PostgreSQL) stored in a folder (held by this process alone:
 * data-folder-lock.ts), or in memory for `memory://`. With a `statements` counter, every
 * statement sent through the handle's factory is counted there.
 */
export function openDatabase(database: AppConfig['database'], statements?: StatementCounter): DatabaseHandle {
  const handle = open(database);
  return statements ? { ...handle, factory: countStatements(handle.factory, statements) } : handle;
}

function open(database: AppConfig['database']): DatabaseHandle {
  if (database.kind === 'postgres') {
    return {
      kind: 'postgres',
      factory: new PrismaPg({
        connectionString: database.url,
        max: 10,
        connectionTimeoutMillis: 5000,
        idleTimeoutMillis: 30000,
      }),
      close: async () => undefined,
    };
  }
  const inMemory = database.dataDir === 'memory://';
  // One process per folder: refused here, before anything is opened or written.
  const unlock = inMemory ? () => undefined : lockDataFolder(database.dataDir);
  let pglite: PGlite;
  try {
    pglite = new PGlite(inMemory ? undefined : database.dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  return {
    kind: 'pglite',
    factory: new PrismaPGlite(pglite),
    close: async () => {
      try {
        if (!pglite.closed) await pglite.close();
      } finally {
        unlock();
      }
    },
  };
}
