import { ConflictError, ServiceUnavailableError } from '../common/errors';

interface PrismaLikeError {
  code?: string;
  meta?: {
    target?: unknown;
    modelName?: string;
    driverAdapterError?: {
      cause?: {
        kind?: string;
        code?: string;
        table?: string;
        constraint?: { fields?: string[]; index?: string };
      };
    };
  };
  name?: string;
  message?: string;
}

const connectionCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver adapter error kinds that mean "the database cannot be reached right now". */
const unreachableKinds = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
/**
 * SQLSTATEs and socket codes of a server that is going away or not back yet: class 08
 * (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300.
 */
const unreachableSqlStates = /^(08\d{3}|57P0[1-3]|53300|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND)$/;
/** What pg itself throws (unwrapped by Prisma) when a pooled connection dies under a query. */
const unreachableMessages =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect)$/;

/**
 * True when `err` says the database cannot be reached (down, restarting, connections cut), as
 * opposed to a problem with the query. Such requests get a 503 and may simply be retried.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as PrismaLikeError;
  if (typeof e.code === 'string' && (connectionCodes.has(e.code) || unreachableSqlStates.test(e.code)))
    return true;
  const cause = e.meta?.driverAdapterError?.cause;
  if (cause?.kind && unreachableKinds.has(cause.kind)) return true;
  if (typeof cause?.code === 'string' && unreachableSqlStates.test(cause.code)) return true;
  return typeof e.message === 'string' && unreachableMessages.test(e.message);
}

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
  if (isDatabaseUnavailable(e)) {
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
