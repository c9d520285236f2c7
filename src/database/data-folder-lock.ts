import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** The file that says which process holds an embedded database folder. */
export const LOCK_FILE = 'connect-bridge.lock';

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
}

/** Another process holds the folder: nothing was opened or written. */
export class DataFolderInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `The embedded database folder ${dataDir} is in use by another connect-bridge process ` +
        `(pid ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''}: "${owner.command}", since ${owner.since}). ` +
        'Only one process may open it at a time, so nothing was done. Stop that process first ' +
        '(the server holds the folder while it runs: run users:add and db:migrate while it is stopped), ' +
        'give this one its own folder (PGLITE_DATA_DIR=.data/other), or use PostgreSQL (DATABASE_URL=postgresql://…), ' +
        'which any number of processes can share.',
    );
    this.name = 'DataFolderInUseError';
  }
}

/** Folders this process holds, with how many openers share the hold (re-entrant within a process). */
const held = new Map<string, number>();
let exitHookInstalled = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string') return undefined;
    return {
      pid: owner.pid,
      host: owner.host,
      command: String(owner.command ?? 'unknown'),
      since: String(owner.since ?? 'unknown'),
    };
  } catch {
    return undefined;
  }
}

function commandLine(): string {
  return process.argv
    .slice(1, 3)
    .map((a) => a.replace(/^.*\/(dist\/)/, '$1'))
    .join(' ')
    .slice(0, 200);
}

/**
 * Takes the embedded database folder for this process, or throws DataFolderInUseError before
 * anything is written (PGlite has no lock of its own: two processes on one folder corrupt it).
 * The lock file (`connect-bridge.lock`, created exclusively) names the holder; a lock left by a
 * process that is gone (same host) is taken over. Resolves a release function; the hold also
 * ends when the process exits.
 */
export function lockDataFolder(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const count = held.get(dir);
  if (count !== undefined) {
    held.set(dir, count + 1);
    return once(() => release(dir));
  }
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    command: commandLine(),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const owner = readOwner(path);
      // A live holder on this host, or one on another host we cannot check: refuse.
      if (owner && (owner.host !== me.host || alive(owner.pid)) && owner.pid !== process.pid)
        throw new DataFolderInUseError(dataDir, owner);
      // Stale (its process is gone) or unreadable: take it over.
      rmSync(path, { force: true });
    }
  }
  held.set(dir, 1);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of held.keys()) removeIfMine(d);
    });
  }
  return once(() => release(dir));
}

function release(dir: string): void {
  const count = held.get(dir);
  if (count === undefined) return;
  if (count > 1) {
    held.set(dir, count - 1);
    return;
  }
  held.delete(dir);
  removeIfMine(dir);
}

function removeIfMine(dir: string): void {
  const path = join(dir, LOCK_FILE);
  if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
