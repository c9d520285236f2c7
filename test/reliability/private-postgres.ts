/**
 * A private, throwaway PostgreSQL cluster for fault tests that stop and restart the server
 * (the machine's shared PostgreSQL is never touched: other suites run against it). initdb into
 * a temporary folder, pg_ctl on a free port with its socket in that folder, trust auth on
 * 127.0.0.1. As root, the cluster is run as the `postgres` OS user (PostgreSQL refuses root).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../login/harness';

export interface PrivatePostgres {
  /** postgresql://cb@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  start(): void;
  /** `fast`: clean shutdown (connections closed); `immediate`: like a crash. */
  stop(mode?: 'fast' | 'immediate'): void;
  dispose(): void;
}

/** The PostgreSQL server binaries (initdb, pg_ctl), or undefined when none are installed. */
export function postgresBinaries(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : undefined;
}

/** Why the private cluster cannot run here (no binaries; root without a `postgres` user), or undefined. */
export function privatePostgresUnavailable(): string | undefined {
  if (!postgresBinaries()) return 'PostgreSQL server binaries (initdb, pg_ctl) are not installed';
  if (userInfo().uid === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0)
    return 'running as root and there is no postgres OS user to run a private cluster';
  return undefined;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('PostgreSQL server binaries not found');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'cb-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  };
  run('initdb', ['-D', data, '-U', 'cb', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const pg: PrivatePostgres = {
    url: `postgresql://cb@127.0.0.1:${port}/postgres`,
    port,
    start: () =>
      run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']),
    stop: (mode = 'fast') => run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']),
    dispose: () => {
      try {
        pg.stop('immediate');
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}
