// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (or the embedded PGlite
// folder) with Prisma's schema engine, recording them in _prisma_migrations.
import { ConfigError, databaseConfigFromProcess } from '../config/app-config';
import { openDatabase } from '../database/adapter';
import { DataFolderInUseError } from '../database/data-folder-lock';
import { applyMigrations } from '../database/migrator';

async function main(): Promise<void> {
  // Only the database variables: migrations run as their own deployment step.
  const config = { database: databaseConfigFromProcess() };
  const db = openDatabase(config.database);
  try {
    const applied = await applyMigrations(db.factory);
    const where = config.database.kind === 'postgres' ? 'PostgreSQL' : `PGlite (${config.database.dataDir})`;
    console.log(applied.length ? `Applied to ${where}: ${applied.join(', ')}` : `${where} is up to date.`);
  } finally {
    await db.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(
      err instanceof ConfigError || err instanceof DataFolderInUseError
        ? err.message
        : `Migration failed: ${(err as Error).message ?? err}`,
    );
    process.exit(1);
  });
