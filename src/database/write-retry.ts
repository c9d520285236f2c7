import type { Logger } from '@nestjs/common';
import { isDatabaseUnavailable } from './prisma-errors';

/** About a minute in all: long enough for a database restart or fail-over. */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15_000, 30_000];
/** Writes waiting for the database, process-wide; beyond this they are logged and dropped. */
const MAX_PENDING = 1000;
let pending = 0;

/**
 * Runs a write of bookkeeping that must not be lost but must not hold up the answer either (an
 * audit row; the record of a completion AuthKit already accepted). When the database is
 * unreachable the write is retried in the background with backoff, for about a minute, instead
 * of being dropped. Any other failure is logged.
 */
export async function writeOrRetry(
  write: () => Promise<unknown>,
  what: string,
  logger: Logger,
): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (!isDatabaseUnavailable(err) || pending >= MAX_PENDING) {
      logger.error({ err }, `could not write the ${what}`);
      return;
    }
    pending++;
    logger.warn(`the database is unreachable; the ${what} will be written when it is back`);
    void retry(write, what, logger, 0);
  }
}

async function retry(
  write: () => Promise<unknown>,
  what: string,
  logger: Logger,
  attempt: number,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]).unref());
  try {
    await write();
    pending--;
    logger.log(`the ${what} was written after the database came back`);
  } catch (err) {
    if (isDatabaseUnavailable(err) && attempt + 1 < RETRY_DELAYS_MS.length)
      return retry(write, what, logger, attempt + 1);
    pending--;
    logger.error({ err }, `gave up writing the ${what}`);
  }
}
