/**
 * One process per embedded database folder: a second server, or `users:add` while the server
 * runs, is refused at once with a message that names the holder and what to do, and writes
 * nothing; a lock left by a process that died is taken over.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFolderInUseError, LOCK_FILE, lockDataFolder } from '../../src/database/data-folder-lock';
import {
  childEnv,
  ensureBuilt,
  MAIN_JS,
  REPO_ROOT,
  spawnCaptured,
  startBuiltServer,
} from '../helpers/built-server';
import { bridgeEnv } from '../reliability/servers';

const folders: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cb-lock-'));
  folders.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('lockDataFolder', () => {
  it('refuses a folder held by another live process, naming it, and writes nothing', async () => {
    const dir = folder();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const owner = {
        pid: holder.pid,
        host: hostname(),
        command: 'npm start',
        since: '2026-12-01T10:00:00Z',
      };
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify(owner));
      const before = readdirSync(dir);
      let error: unknown;
      try {
        lockDataFolder(dir);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DataFolderInUseError);
      expect((error as Error).message).toContain(`pid ${holder.pid}`);
      expect((error as Error).message).toContain('"npm start"');
      expect((error as Error).message).toMatch(/PGLITE_DATA_DIR=.*DATABASE_URL=/s);
      expect(readdirSync(dir)).toEqual(before);
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock whose process is gone, and releases it', () => {
    const dir = folder();
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        host: hostname(),
        command: 'node dist/src/main.js',
        since: 'then',
      }),
    );
    const release = lockDataFolder(dir);
    expect(readdirSync(dir)).toContain(LOCK_FILE);
    release();
    expect(readdirSync(dir)).not.toContain(LOCK_FILE);
  });

  it('is re-entrant within one process (the server locks before opening the database)', () => {
    const dir = folder();
    const outer = lockDataFolder(dir);
    const inner = lockDataFolder(dir);
    inner();
    expect(readdirSync(dir)).toContain(LOCK_FILE);
    outer();
    expect(readdirSync(dir)).not.toContain(LOCK_FILE);
  });
});

describe('a running server holds its folder', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('a second server and users:add are refused at once; users:add stores nothing', async () => {
    const dir = folder();
    const { env, emulator } = await bridgeEnv({ PGLITE_DATA_DIR: dir, LEGACY_AUTH_STRATEGY: 'local' });
    const server = await startBuiltServer({ env });
    try {
      const second = spawnCaptured(process.execPath, [MAIN_JS], {
        env: childEnv({ NODE_ENV: 'test', ...env, PORT: '0' }),
      });
      const exit = await second.exited;
      expect(exit.code).toBe(1);
      expect(second.text).toContain(`in use by another connect-bridge process (pid ${server.child.pid}`);

      const add = spawnCaptured(
        process.execPath,
        [
          join(REPO_ROOT, 'dist', 'src', 'cli', 'users-add.js'),
          '--email',
          'late@example.com',
          '--generate-password',
        ],
        { env: childEnv({ NODE_ENV: 'test', PGLITE_DATA_DIR: dir }) },
      );
      expect((await add.exited).code).toBe(1);
      expect(add.text).toContain('is in use by another connect-bridge process');
      expect(add.text).not.toMatch(/Added|Password:/);
    } finally {
      await server.stop();
      await emulator.close();
    }
    // Stopped: the folder is free again, and the refused user was never stored.
    const check = spawnCaptured(
      process.execPath,
      [join(REPO_ROOT, 'dist', 'src', 'cli', 'users-add.js'), '--email', 'late@example.com', '--disable'],
      { env: childEnv({ NODE_ENV: 'test', PGLITE_DATA_DIR: dir }) },
    );
    expect((await check.exited).code).toBe(1);
    expect(check.text).toContain('There is no user with the email late@example.com');
    expect(readdirSync(dir)).not.toContain(LOCK_FILE);
  }, 120_000);
});
