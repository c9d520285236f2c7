/**
 * Busy ports are found before anything starts or is written: the message names every busy port,
 * what it is for and the variable that moves it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, ensureBuilt, MAIN_JS, spawnCaptured } from '../helpers/built-server';
import { freePort } from '../login/harness';

const hold = async (): Promise<{ server: Server; port: number }> => {
  const port = await freePort();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port };
};

it('a demo whose two ports are taken stops at once, names both, and writes nothing', async () => {
  await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'cb-ports-'));
  const dataDir = join(dir, 'pglite');
  const [bridge, emulator] = [await hold(), await hold()];
  try {
    const proc = spawnCaptured(process.execPath, [MAIN_JS], {
      env: childEnv({
        PORT: String(bridge.port),
        EMULATOR_PORT: String(emulator.port),
        PGLITE_DATA_DIR: dataDir,
      }),
    });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.text).toContain(`port ${bridge.port} (the bridge, PORT)`);
    expect(proc.text).toContain(`port ${emulator.port} (the demo AuthKit emulator, EMULATOR_PORT)`);
    expect(proc.text).toMatch(/Nothing was started or written/);
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    bridge.server.close();
    emulator.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
