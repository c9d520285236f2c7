import { Prisma } from '../generated/prisma/client';

/**
 * The database's clock as the `timestamp(3)` columns hold it (UTC, like Prisma's own writes):
 * for statements that compare with or write those columns in the database's time.
 */
export const DB_NOW_TEXT = `(now() AT TIME ZONE 'UTC')::timestamp(3)`;
export const DB_NOW = Prisma.raw(DB_NOW_TEXT);
