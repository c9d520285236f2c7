import { ConflictError, ServiceUnavailableError } from '../common/errors';

interface PrismaLikeError {
  code?: string;
  meta?: {
    target?: unknown;
    modelName?: string;
    driverAdapterError?: { cause?: { table?: string; constraint?: { fields?: string[]; index?: string } } };
  };
  name?: string;
}

const connectionCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);

/**
 * Maps Prisma's errors to domain errors in one place: a unique violation (P2002) becomes a
 * ConflictError naming the fields, a lost database a 503. Anything else is rethrown as is.
 */
export function mapPrismaError(err: unknown): never {
  const e = err as PrismaLikeError;
  if (e && typeof e === 'object' && e.code === 'P2002') {
    const fields = uniqueFields(e);
    throw new ConflictError(`A record with this ${fields.join(', ') || 'value'} already exists.`, {
      cause: err,
    });
  }
  if (e && typeof e === 'object' && typeof e.code === 'string' && connectionCodes.has(e.code)) {
    throw new ServiceUnavailableError(
      'database_unavailable',
      'The database is not reachable; try again shortly.',
      {
        cause: err,
      },
    );
  }
  throw err;
}

function uniqueFields(e: PrismaLikeError): string[] {
  const target = e.meta?.target;
  if (Array.isArray(target)) return target.map(String);
  if (typeof target === 'string') return [target];
  const cause = e.meta?.driverAdapterError?.cause;
  if (Array.isArray(cause?.constraint?.fields)) return cause.constraint.fields.map(String);
  // PostgreSQL through pg names the index instead: <table>_<column>_key.
  const index = cause?.constraint?.index;
  if (index && cause?.table && index.startsWith(`${cause.table}_`) && index.endsWith('_key')) {
    return [index.slice(cause.table.length + 1, -'_key'.length)];
  }
  return [];
}

/** Runs a Prisma call and maps its errors. */
export async function withPrismaErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    mapPrismaError(err);
  }
}
