/**
 * The start-up rule, as operators meet it with the compiled server (`node dist/src/main.js` and the
 * npm scripts): the first line of the log names the mode (production, demo, development/test);
 * production refuses the embedded database unless explicitly allowed, and then warns; a bad
 * environment is reported in one round; the npm scripts read a `.env` in the folder they run in,
 * the process environment winning; the guide's systemd unit passes `systemd-analyze verify`.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../emulator';
import {
  MAIN_JS,
  REPO_ROOT,
  childEnv,
  ensureBuilt,
  spawnCaptured,
  startBuiltServer,
  waitUntilReady,
} from '../helpers/built-server';
import { emulatorEnv } from '../helpers/config';
import { createTestDatabase, usingPostgres } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { findExecutable } from '../helpers/reverse-proxy';

jest.setTimeout(120_000);

const production = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://bridge.example.com',
  WORKOS_API_KEY: 'sk_live_startup',
  WORKOS_CLIENT_ID: 'client_startup',
  // Nothing answers there: these servers are only started, never asked to sign anyone in.
  WORKOS_API_URL: 'https://127.0.0.1:9',
  AUTHKIT_DOMAIN: 'https://127.0.0.1:9',
  SESSION_SECRET: 'startup-test-secret-startup-test-secret',
  LOG_LEVEL: 'warn', // the first line is written whatever the level
};

/** The message of a log line: JSON (`"msg"`), or a human line (`… [Startup] message`), or the line itself. */
const message = (line: string): string => {
  try {
    return (JSON.parse(line) as { msg?: string }).msg ?? line;
  } catch {
    return /\[Startup\] (.*)$/.exec(line)?.[1] ?? line;
  }
};
/** Node's own notice when `--env-file-if-exists` finds no file (on stderr, before any of ours). */
const NODE_NO_ENV_FILE = /^\.env not found\. Continuing without it\.$/;

let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cb-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the first line of the log names the mode', () => {
  it('production refuses the embedded database and every other problem in one round, naming the mode', async () => {
    const proc = spawnCaptured(process.execPath, [MAIN_JS], { env: childEnv({ NODE_ENV: 'production' }) });
    expect((await proc.exited).code).toBe(1);
    expect(proc.lines[0]).toBe(
      'connect-bridge refuses to start in production mode (NODE_ENV=production). Invalid configuration (6 problems):',
    );
    const named = proc.lines.slice(1, 7).map((l) => /^ {2}- ([A-Z_]+): /.exec(l)?.[1]);
    expect(named.sort()).toEqual(
      [
        'AUTHKIT_DOMAIN',
        'DATABASE_URL',
        'PUBLIC_URL',
        'SESSION_SECRET',
        'WORKOS_API_KEY',
        'WORKOS_CLIENT_ID',
      ].sort(),
    );
    expect(proc.text).toMatch(
      /DATABASE_URL: required in production .*ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true/,
    );
  });

  it('reports malformed variables and the rules between them together', async () => {
    const proc = spawnCaptured(process.execPath, [MAIN_JS], {
      env: childEnv({ ...production, PORT: 'eighty', SESSION_SECRET: 'short', TRUST_PROXY: 'true' }),
    });
    expect((await proc.exited).code).toBe(1);
    expect(proc.lines[0]).toMatch(/^connect-bridge refuses to start in production mode .*\(4 problems\):$/);
    expect(proc.lines.slice(1, 5).map((l) => /^ {2}- ([A-Z_]+): /.exec(l)?.[1])).toEqual([
      'PORT',
      'SESSION_SECRET',
      'DATABASE_URL',
      'TRUST_PROXY',
    ]);
    expect(proc.lines[1]).toMatch(/e\.g\. PORT=3000$/);
  });

  it('production on the embedded database, explicitly allowed: the mode, then a warning', async () => {
    const server = await startBuiltServer({
      env: {
        ...production,
        ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true',
        PGLITE_DATA_DIR: join(dir, 'production-pglite'),
      },
      readyPath: false,
    });
    try {
      expect(message(server.lines[0])).toBe(
        `connect-bridge starting in production mode (NODE_ENV=production, WorkOS API https://127.0.0.1:9, AuthKit https://127.0.0.1:9, embedded PGlite database in ${join(dir, 'production-pglite')}, public URL https://bridge.example.com)`,
      );
      expect(JSON.parse(server.lines[0])).toMatchObject({
        level: 30,
        context: 'Startup',
        mode: 'production',
      });
      expect(JSON.parse(server.lines[1])).toMatchObject({
        level: 40,
        context: 'Startup',
        mode: 'production',
      });
      expect(message(server.lines[1])).toMatch(
        /serves this one process only, has no backups .*no second instance can share it/,
      );
    } finally {
      await server.stop('SIGKILL');
    }
  });

  (usingPostgres() ? it : it.skip)('production on PostgreSQL: where, without its credentials', async () => {
    const db = await createTestDatabase();
    try {
      if (db.database.kind !== 'postgres') throw new Error('PostgreSQL expected');
      const url = new URL(db.database.url);
      const proc = spawnCaptured(process.execPath, [MAIN_JS], {
        env: childEnv({ ...production, DATABASE_URL: db.database.url, PORT: String(await freePort()) }),
      });
      try {
        const first = message(await proc.waitForLine(/./));
        expect(first).toBe(
          `connect-bridge starting in production mode (NODE_ENV=production, WorkOS API https://127.0.0.1:9, AuthKit https://127.0.0.1:9, PostgreSQL at ${url.host}${url.pathname}, public URL https://bridge.example.com)`,
        );
        if (url.password) expect(proc.text).not.toContain(url.password);
      } finally {
        await proc.stop('SIGKILL');
      }
    } finally {
      await db.dispose();
    }
  });

  it('demo mode: the embedded emulator and database, not for production', async () => {
    const server = await startBuiltServer({
      env: { NODE_ENV: 'development', PGLITE_DATA_DIR: 'memory://' },
      waitForLine: /^\s+Sign in as\s+/,
    });
    try {
      expect(message(server.lines[0])).toBe(
        `connect-bridge starting in demo mode: embedded AuthKit emulator and database (embedded PGlite database in memory); not for production (NODE_ENV=development, public URL http://localhost:${server.port})`,
      );
    } finally {
      await server.stop();
    }
  });

  it('test mode against an AuthKit emulator: says the production checks are off', async () => {
    const port = await freePort();
    const emulator = await startEmulator({ loginUri: `http://127.0.0.1:${port}/auth/login` });
    const server = await startBuiltServer({
      env: { NODE_ENV: 'test', PORT: String(port), PGLITE_DATA_DIR: 'memory://', ...emulatorEnv(emulator) },
    });
    try {
      expect(message(server.lines[0])).toMatch(
        new RegExp(
          `^connect-bridge starting in test mode \\(NODE_ENV=test, WorkOS API ${emulator.url}, AuthKit ${emulator.issuer}, embedded PGlite database in memory, public URL http://localhost:${port}\\): production checks are off`,
        ),
      );
    } finally {
      await server.stop();
      await emulator.close();
    }
  });
});

describe('.env files (the npm scripts: node --env-file-if-exists=.env)', () => {
  /** A folder laid out like a deployment (package.json, dist/, node_modules/) to run npm scripts in. */
  const deployment = (name: string, dotenv?: string): string => {
    const root = join(dir, name);
    mkdirSync(root, { recursive: true });
    copyFileSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'dist'), join(root, 'dist'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
    if (dotenv !== undefined) writeFileSync(join(root, '.env'), dotenv);
    return root;
  };

  const startProd = async (cwd: string, env: Record<string, string>) => {
    const port = await freePort();
    const proc = spawnCaptured('npm', ['run', '--silent', 'start:prod'], {
      cwd,
      detached: true,
      env: childEnv({ PORT: String(port), EMULATOR_PORT: String(await freePort()), ...env }),
    });
    const server = Object.assign(proc, { url: `http://127.0.0.1:${port}` });
    await waitUntilReady(server, '/readyz', 60_000);
    return server;
  };

  it('start:prod reads a .env in its folder; a variable also in the process environment takes the process value', async () => {
    const root = deployment(
      'with-dotenv',
      [
        '# read by node --env-file-if-exists=.env',
        'NODE_ENV=test',
        'PGLITE_DATA_DIR=memory://',
        'MCP_DOCUMENTATION_URL=https://docs.from-dotenv.example/mcp',
        'MCP_RESOURCE_NAME=from the .env file',
        '',
      ].join('\n'),
    );
    const server = await startProd(root, { MCP_RESOURCE_NAME: 'from the process environment' });
    try {
      const metadata = (await (
        await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)
      ).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({
        resource_documentation: 'https://docs.from-dotenv.example/mcp', // only in .env
        resource_name: 'from the process environment', // in both: the process wins
      });
      // NODE_ENV=test came from the file too (the demo says which NODE_ENV it runs with).
      const modeLine = await server.waitForLine(/connect-bridge starting in /, 10_000);
      expect(message(modeLine)).toMatch(/^connect-bridge starting in demo mode: .*\(NODE_ENV=test,/);
    } finally {
      await server.stop();
    }
  });

  it('without a .env, Node says so on stderr and the service starts as usual, its first line naming the mode', async () => {
    const root = deployment('without-dotenv');
    const server = await startProd(root, { NODE_ENV: 'development', PGLITE_DATA_DIR: 'memory://' });
    try {
      const modeLine = await server.waitForLine(/connect-bridge starting in /, 10_000);
      expect(message(modeLine)).toMatch(/^connect-bridge starting in demo mode: /);
      expect(server.lines.filter((l) => !NODE_NO_ENV_FILE.test(l))[0]).toBe(modeLine);
      expect(server.lines.some((l) => NODE_NO_ENV_FILE.test(l))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('db:migrate:prod reads the database from .env', async () => {
    const pglite = join(dir, 'migrated-pglite');
    const root = deployment('migrate', `PGLITE_DATA_DIR=${pglite}\n`);
    const proc = spawnCaptured('npm', ['run', '--silent', 'db:migrate:prod'], {
      cwd: root,
      env: childEnv({}),
    });
    expect((await proc.exited).code).toBe(0);
    expect(proc.text).toContain(`Applied to PGlite (${pglite}):`);
  });
});

const SYSTEMD_ANALYZE = findExecutable('systemd-analyze');
(SYSTEMD_ANALYZE ? describe : describe.skip)('docs/deploy/connect-bridge.service', () => {
  it('passes systemd-analyze verify', () => {
    const unit = readFileSync(join(REPO_ROOT, 'docs', 'deploy', 'connect-bridge.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node dist\/src\/main\.js$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/connect-bridge\/connect-bridge\.env$/m);
    // verify checks that ExecStart's program exists: this machine's node where /usr/bin/node is missing
    const checked = existsSync('/usr/bin/node')
      ? unit
      : unit.replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`);
    const file = join(dir, 'connect-bridge.service');
    writeFileSync(file, checked);
    const r = spawnSync(SYSTEMD_ANALYZE!, ['verify', file], { encoding: 'utf8' });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });
});
if (!SYSTEMD_ANALYZE)
  process.stderr.write(
    'skipped the systemd unit check of startup.e2e.ts: no systemd-analyze on this machine\n',
  );
