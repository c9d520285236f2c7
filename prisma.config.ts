// Prisma CLI configuration (Prisma 7). The CLI is only used for `prisma generate`; migrations
// run through Prisma's schema engine in WASM (src/database/migrator.ts), which needs no download.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
