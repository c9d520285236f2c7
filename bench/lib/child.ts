// Servers under test run in child processes (one per server), so that the load generator and
// the server never share an event loop. Parent and child talk over the fork IPC channel:
// the child announces `ready` with what it started, then answers small RPC calls.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface RpcRequest {
  rpc: number;
  cmd: string;
  args?: unknown;
}
interface RpcReply {
  rpc: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}
interface ReadyMessage {
  ready: true;
  info: Record<string, unknown>;
}

export type Handlers = Record<string, (args: never) => unknown>;

/** Child side: answers RPC calls, then announces `ready` with `info`. */
export function serveRpc(handlers: Handlers, info: Record<string, unknown>): void {
  process.on('message', (msg: RpcRequest) => {
    if (!msg || typeof msg.rpc !== 'number') return;
    const handler = handlers[msg.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${msg.cmd}`);
        return (handler as (a: unknown) => unknown)(msg.args);
      })
      .then(
        (value) => process.send?.({ rpc: msg.rpc, ok: true, value } satisfies RpcReply),
        (err: unknown) =>
          process.send?.({
            rpc: msg.rpc,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          } satisfies RpcReply),
      );
  });
  process.send?.({ ready: true, info } satisfies ReadyMessage);
}

/** Child side: reports a start-up failure to the parent and exits. */
export function failStart(err: unknown): never {
  console.error('bench target failed to start:', err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
}

export interface Child<Info = Record<string, unknown>> {
  name: string;
  pid: number;
  info: Info;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  /** Resident set size now, in bytes (from /proc, else asked over IPC). */
  rss(): Promise<number>;
  /** CPU time (user + system) used so far, in milliseconds; undefined without /proc. */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * Forks `dist-bench/bench/targets/<script>.js` with `options` in BENCH_TARGET (JSON) and waits
 * for `ready`. stdout/stderr of the child are kept quiet unless `verbose`.
 */
export async function startChild<Info = Record<string, unknown>>(
  name: string,
  script: string,
  options: Record<string, unknown>,
  extra: { execArgv?: string[]; verbose?: boolean; timeoutMs?: number; root?: string } = {},
): Promise<Child<Info>> {
  // `root`: another checkout's compiled bench (dist-bench/bench), to run its bridge side by side.
  const path = join(extra.root ?? join(__dirname, '..'), 'targets', `${script}.js`);
  const proc = fork(path, [], {
    env: { ...process.env, BENCH_TARGET: JSON.stringify(options) },
    execArgv: extra.execArgv ?? [],
    stdio: extra.verbose ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  live.add(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const info = await new Promise<Info>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: not ready after ${extra.timeoutMs ?? 60_000} ms\n${stderr}`)),
      extra.timeoutMs ?? 60_000,
    );
    proc.on('message', (msg: ReadyMessage | RpcReply) => {
      if ('ready' in msg) {
        clearTimeout(timer);
        resolve(msg.info as Info);
        return;
      }
      const p = pending.get(msg.rpc);
      if (!p) return;
      pending.delete(msg.rpc);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      clearTimeout(timer);
      const err = new Error(`${name} exited (${code ?? signal})\n${stderr}`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
  });
  const call = <T>(cmd: string, args?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const rpc = ++next;
      pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      proc.send({ rpc, cmd, args } satisfies RpcRequest);
    });
  const pid = proc.pid!;
  return {
    name,
    pid,
    info,
    call,
    async rss() {
      const fromProc = procRss(pid);
      return fromProc ?? (await call<{ rss: number }>('mem')).rss;
    },
    cpuMs: () => procCpuMs(pid),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      // A graceful exit (app.close(), so --cpu-prof could write a profile), then a hard one.
      call('shutdown').catch(() => undefined);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process in bytes, or undefined where /proc is not available. */
export function procRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU time of a process in milliseconds (/proc/<pid>/stat, 100 ticks a second). */
export function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime): index 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
