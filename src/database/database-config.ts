import type { AppConfig } from '../config/app-config';
import { ConfigError } from '../config/app-config';
import { envSchema } from '../config/env.schema';

/**
 * Only the database part of the configuration (DATABASE_URL, PGLITE_DATA_DIR,
 * DATABASE_AUTO_MIGRATE), validated like the whole: for `db:migrate`, which needs nothing else
 * and runs as its own step of a deployment (a one-shot container with just DATABASE_URL).
 */
export function databaseConfigFrom(env: Record<string, string | undefined>): AppConfig['database'] {
  const parsed = envSchema
    .pick({ DATABASE_URL: true, PGLITE_DATA_DIR: true, DATABASE_AUTO_MIGRATE: true })
    .safeParse(env);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  return e.DATABASE_URL
    ? { kind: 'postgres', url: e.DATABASE_URL, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? false }
    : { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? true };
}
