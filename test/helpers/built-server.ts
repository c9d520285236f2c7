/**
 * The compiled server as operators run it: `dist/` built once (shared by every jest worker and
 * suite through a file lock and a stamp), `node dist/src/main.js` spawned as a child process
 * with a clean environment, its output captured, readiness awaited over HTTP.
 *
 *   await ensureBuilt();
 *   const server = await startBuiltServer({ env: { DATABASE_URL, WORKOS_API_KEY, … } });
 *   await fetch(`${server.url}/healthz`);
 *   await server.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { envSchema } from '../../src/config/env.schema';
import { freePort } from '../login/harness';

export const REPO_ROOT = join(__dirname, '..', '..');
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'connect-bridge');
const LOCK_DIR = join(CACHE_DIR, 'build.lock');
const STAMP = join(CACHE_DIR, 'build.stamp');
/** What `npm run build` compiles; a change to any of these makes the next ensureBuilt() rebuild. */
const BUILD_INPUTS = ['src', 'emulator', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
export const MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'main.js');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newestMtime(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function upToDate(): boolean {
  try {
    const stamp = statSync(STAMP).mtimeMs;
    statSync(MAIN_JS);
    return BUILD_INPUTS.every((p) => newestMtime(join(REPO_ROOT, p)) < stamp);
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding the build lock (a directory: mkdir is atomic across processes). A lock
 * whose owner died, or older than `staleMs`, is taken over. Other suites that run `npm run build`
 * or `npm start` themselves hold it too, so no two tsc runs write `dist/` at once.
 */
export async function withBuildLock<T>(
  fn: () => Promise<T> | T,
  options: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const staleMs = options.staleMs ?? 300_000;
  mkdirSync(CACHE_DIR, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let stale = false;
      try {
        const owner = Number(readFileSync(join(LOCK_DIR, 'owner'), 'utf8'));
        stale = (owner > 0 && !pidAlive(owner)) || Date.now() - statSync(LOCK_DIR).mtimeMs > staleMs;
      } catch {
        // the owner file is not written yet (or the lock just went away): look again shortly
        try {
          stale = Date.now() - statSync(LOCK_DIR).mtimeMs > staleMs;
        } catch {
          /* gone */
        }
      }
      if (stale) rmSync(LOCK_DIR, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${LOCK_DIR}`);
      else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

let built: Promise<void> | undefined;

/**
 * Makes sure `dist/` is the build of the current sources: `npm run build` (tsc, incremental)
 * unless the stamp is newer than every input. Once per process; across processes under the lock.
 * A type error fails loudly with tsc's output.
 */
export function ensureBuilt(): Promise<void> {
  built ??= withBuildLock(() => {
    if (upToDate()) return;
    const started = Date.now();
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 170_000,
    });
    if (result.status !== 0)
      throw new Error(
        `npm run build failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`,
      );
    // The stamp's mtime is when the build started: a source edited during the build rebuilds next time.
    writeFileSync(STAMP, `built in ${Date.now() - started} ms by pid ${process.pid}\n`);
    utimesSync(STAMP, new Date(started), new Date(started));
  }).catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}

/** Every variable the service reads (plus the emulator's): stripped from a child's environment. */
const SERVICE_VARS = new Set([...Object.keys(envSchema.shape), 'EMULATOR_HOST', 'EMULATOR_QUIET']);

/**
 * A clean environment for a child process: the parent's (PATH, HOME, npm and CA settings) without
 * anything the service reads, plus `env`. This Node comes first on PATH (npm scripts run `node`).
 */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (SERVICE_VARS.has(k) || k.startsWith('EMULATOR_') || k.startsWith('LEGACY_')) continue;
    if (k === 'TEST_DATABASE_URL' || k.startsWith('JEST_') || k === 'NODE_OPTIONS') continue;
    out[k] = v;
  }
  out.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export interface ChildOutput {
  /** stdout and stderr lines, in arrival order. */
  readonly lines: string[];
  readonly text: string;
  /** Resolves with the first line (already seen or to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export interface SpawnedProcess extends ChildOutput {
  child: ChildProcess;
  /** Settles when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal` (SIGTERM) and waits; SIGKILL after `timeoutMs`. Resolves with the exit. (After a
   * clean shutdown Nest re-raises the signal, so a graceful stop reads `{ code: null, signal: 'SIGTERM' }`.)
   */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
const groups = new WeakSet<ChildProcess>();
let exitHookInstalled = false;

/** Signals the child, or its whole process group when it was spawned detached. */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (groups.has(child) && child.pid) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    /* already gone */
  }
}

/** Spawns a command with captured output; killed when the test process exits. */
export function spawnCaptured(
  command: string,
  args: string[],
  /** `detached`: its own process group, signalled as a whole (for `npm start` and the like). */
  options: { env: NodeJS.ProcessEnv; cwd?: string; detached?: boolean },
): SpawnedProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) signal(c, 'SIGKILL');
    });
  }
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  if (options.detached) groups.add(child);
  live.add(child);
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onData = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) push(line);
    });
    stream.on('end', () => rest && push(rest));
  };
  const push = (line: string) => {
    lines.push(line);
    for (const w of [...waiters])
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  };
  onData(child.stdout!);
  onData(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      live.delete(child);
      resolve({ code: -1, signal: null });
    });
  });
  const proc: SpawnedProcess = {
    child,
    lines,
    get text() {
      return lines.join('\n');
    },
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${tail(lines)}`));
        }, timeoutMs);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.includes(waiter)) return;
          waiters.splice(waiters.indexOf(waiter), 1);
          clearTimeout(timer);
          reject(new Error(`exited (${code ?? signal}) before printing ${pattern}; output:\n${tail(lines)}`));
        });
      });
    },
    async stop(sig = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        signal(child, sig);
        const timer = setTimeout(() => signal(child, 'SIGKILL'), timeoutMs);
        const result = await exited;
        clearTimeout(timer);
        if (groups.has(child)) signal(child, 'SIGKILL'); // whatever the group left behind
        return result;
      }
      return exited;
    },
  };
  return proc;
}

const tail = (lines: string[], n = 40) => lines.slice(-n).join('\n');

export interface BuiltServer extends SpawnedProcess {
  port: number;
  /** http://127.0.0.1:$PORT (where it listens; PUBLIC_URL may differ). */
  url: string;
}

export interface StartBuiltServerOptions {
  /** Environment of the service (PORT is chosen when absent). Nothing of the parent's service env leaks in. */
  env?: Record<string, string | undefined>;
  /** Polled until it answers 200; default '/readyz'. `false`: only wait for the port to answer. */
  readyPath?: string | false;
  /** Also wait for a line of output matching this (e.g. the demo banner). */
  waitForLine?: RegExp;
  timeoutMs?: number;
}

/**
 * Builds if needed, spawns `node dist/src/main.js` and waits until it is ready. On a failed start
 * the error carries the process's output. Stop it with `server.stop()`.
 */
export async function startBuiltServer(options: StartBuiltServerOptions = {}): Promise<BuiltServer> {
  await ensureBuilt();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
  // Demo mode embeds the emulator on EMULATOR_PORT (4100): give each server its own.
  const emulatorPort = options.env?.EMULATOR_PORT ?? String(await freePort());
  const proc = spawnCaptured(process.execPath, [MAIN_JS], {
    env: childEnv({ NODE_ENV: 'test', ...options.env, PORT: String(port), EMULATOR_PORT: emulatorPort }),
  });
  const url = `http://127.0.0.1:${port}`;
  const server: BuiltServer = Object.assign(proc, { port, url });
  try {
    await waitUntilReady(server, options.readyPath ?? '/readyz', timeoutMs);
    if (options.waitForLine) await proc.waitForLine(options.waitForLine, timeoutMs);
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return server;
}

/** Polls `url + path` until 200 (or, with `path` false, any HTTP answer); fails early if the process exits. */
export async function waitUntilReady(
  proc: SpawnedProcess & { url: string },
  path: string | false,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      throw new Error(
        `the server exited (${proc.child.exitCode ?? proc.child.signalCode}); output:\n${tail(proc.lines)}`,
      );
    try {
      const res = await fetch(`${proc.url}${path || '/healthz'}`, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${await res.text()}`;
      if (path === false || res.status === 200) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`not ready within ${timeoutMs} ms (${last}); output:\n${tail(proc.lines)}`);
    await sleep(100);
  }
}
