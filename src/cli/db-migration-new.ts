// `npm run db:migration:new -- <name>`: writes the next migration from the difference between
// the existing migrations (replayed on an in-memory PGlite shadow database) and schema.prisma.
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { diffMigrationsToSchema, writeMigration } from '../database/migrator';

async function main(): Promise<void> {
  const name = process.argv.slice(2).join('_');
  if (!name) {
    console.error('Usage: npm run db:migration:new -- <name>');
    process.exit(2);
  }
  const pglite = new PGlite();
  try {
    const sql = await diffMigrationsToSchema(new PrismaPGlite(pglite));
    if (!sql) {
      console.log('schema.prisma matches the migrations: nothing to write.');
      return;
    }
    console.log(`Wrote ${writeMigration(sql, name)}/migration.sql`);
  } finally {
    await pglite.close();
  }
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(`Could not write the migration: ${(err as Error).message ?? err}`);
    process.exit(1);
  });
