import { basename } from 'node:path';
import { usingPostgres } from './database';

/** Why a suite needing PostgreSQL does not run, and how to run it. */
export const NEEDS_POSTGRES = usingPostgres()
  ? undefined
  : 'needs PostgreSQL (PGlite serves one process): TEST_DATABASE_URL=postgresql://user:password@127.0.0.1:5432/postgres npm test -- <file>';

/**
 * `describe`, or `describe.skip` when there is a `reason` not to run: then one line on stderr says
 * which suite was skipped, why, and how to run it (Jest itself only counts skipped tests).
 */
export function describeUnless(reason: string | undefined, file: string): jest.Describe {
  if (reason === undefined) return describe;
  process.stderr.write(`skipped ${basename(file)}: ${reason.replace('<file>', basename(file))}\n`);
  return describe.skip;
}
