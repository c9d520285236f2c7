import type { AppConfig } from './app-config';

export type StartupMode = 'production' | 'demo' | 'development' | 'test';

export interface StartupDescription {
  mode: StartupMode;
  /** The first line the service logs: which mode, against what, on which database. */
  line: string;
  /** Logged right after it, as warnings. */
  warnings: string[];
}

/** Where the database is, never with its user, password or parameters. */
export function describeDatabase(database: AppConfig['database']): string {
  if (database.kind === 'pglite')
    return database.dataDir === 'memory://'
      ? 'embedded PGlite database in memory'
      : `embedded PGlite database in ${database.dataDir}`;
  try {
    const u = new URL(database.url);
    return `PostgreSQL at ${u.host}${u.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

/**
 * The start-up rule in one line: production (NODE_ENV=production, real WorkOS; PostgreSQL, or the
 * embedded database only when explicitly allowed), the demo (no WORKOS_API_KEY: the embedded
 * AuthKit emulator; never in production), or development/test against WorkOS or an emulator with
 * the production checks off.
 */
export function describeStartup(config: AppConfig): StartupDescription {
  const database = describeDatabase(config.database);
  const workos = `WorkOS API ${config.workos.apiUrl}, AuthKit ${config.workos.authkitDomain ?? '(unset)'}`;
  const warnings: string[] = [];
  if (config.demo) {
    const embedded =
      config.database.kind === 'pglite'
        ? `embedded AuthKit emulator and database (${database})`
        : `embedded AuthKit emulator, ${database}`;
    return {
      mode: 'demo',
      line: `connect-bridge starting in demo mode: ${embedded}; not for production (NODE_ENV=${config.env}, public URL ${config.publicUrl})`,
      warnings,
    };
  }
  if (config.production) {
    if (config.database.kind === 'pglite') {
      const backups =
        config.database.dataDir === 'memory://'
          ? 'keeps nothing (memory://: every row is lost when the process stops)'
          : `has no backups (copy ${config.database.dataDir} while the bridge is stopped)`;
      warnings.push(
        `production on the embedded database (ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true): it serves this one process only, ${backups}, and no second instance can share it; set DATABASE_URL to a PostgreSQL database to run more than one instance`,
      );
    }
    return {
      mode: 'production',
      line: `connect-bridge starting in production mode (NODE_ENV=production, ${workos}, ${database}, public URL ${config.publicUrl})`,
      warnings,
    };
  }
  return {
    mode: config.env === 'test' ? 'test' : 'development',
    line: `connect-bridge starting in ${config.env} mode (NODE_ENV=${config.env}, ${workos}, ${database}, public URL ${config.publicUrl}): production checks are off (http:// URLs, a generated SESSION_SECRET); NODE_ENV=production for a deployment`,
    warnings,
  };
}
