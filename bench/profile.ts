// `node dist-bench/bench/profile.js` (after `tsc -p tsconfig.bench.json`): CPU profile of the bridge
// answering verified tools/call whoami at 100 connections, summarised by package and function.
//   PROFILE_TARGET=mcp|healthz   PROFILE_SECONDS=10   PROFILE_CONNECTIONS=100
//   PROFILE_ALLOCATION=1 (then a sampling heap profile of the same load: bytes allocated per call, by function)
//   PROFILE_COMPARE=1 (first the bridge and the true floor unprofiled, same load)   PROFILE_LOG_LEVEL=info   PROFILE_LOG_FORMAT=json (the bench bridge runs NODE_ENV=development: pretty at info)
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startChild, type Child } from './lib/child';
import { AUDIENCE, WHOAMI_CALL, bridgeEnv, freePort, mcpHeaders } from './lib/env';
import type { PeerTargetOptions } from './targets/peer';
import { runLoad } from './lib/load';
import { startWorld } from './lib/world';

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type CallFrame = { functionName: string; url: string; lineNumber: number };

/** An amount per function and per package (node_modules/<pkg>, src/…, node:…), largest first. */
class Tally {
  readonly byFn = new Map<string, number>();
  readonly byPkg = new Map<string, number>();
  total = 0;

  add(frame: CallFrame, amount: number): void {
    const file = frame.url.replace(/^.*\/(node_modules|dist-bench)\//, '').replace(/^file:\/\//, '');
    const fn = `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
    const pkg = packageOf(frame.url, frame.functionName);
    this.byFn.set(fn, (this.byFn.get(fn) ?? 0) + amount);
    this.byPkg.set(pkg, (this.byPkg.get(pkg) ?? 0) + amount);
    this.total += amount;
  }

  static top(m: Map<string, number>, k: number, show: (amount: number) => string): string {
    return [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, amount]) => `${show(amount)}  ${name}`)
      .join('\n');
  }
}

/** Self time per function and per package, in percent. */
export function summarise(profile: CpuProfile, top = 25): string {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const tally = new Tally();
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    if (t) tally.add(n.callFrame, t);
  }
  const show = (t: number) => `${((t / tally.total) * 100).toFixed(1).padStart(5)}%`;
  return `by package (self time, ${(tally.total / 1e6).toFixed(1)} s sampled):\n${Tally.top(tally.byPkg, 30, show)}\n\nby function:\n${Tally.top(tally.byFn, top, show)}`;
}

interface AllocationNode {
  callFrame: CallFrame;
  selfSize: number;
  children: AllocationNode[];
}

/** Bytes allocated per call, by function and by package, from a sampling heap profile. */
export function summariseAllocation(profile: { head: AllocationNode }, calls: number, top = 30): string {
  const tally = new Tally();
  const walk = (n: AllocationNode): void => {
    if (n.selfSize) tally.add(n.callFrame, n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const show = (bytes: number) => `${(bytes / calls).toFixed(0).padStart(7)} B`;
  return `allocated per call: ${(tally.total / calls / 1024).toFixed(1)} KB over ${calls} calls\n\nby package:\n${Tally.top(tally.byPkg, 20, show)}\n\nby function:\n${Tally.top(tally.byFn, top, show)}`;
}

function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const own = /dist-bench\/((?:src|emulator|bench)\/[^/]+)/.exec(url);
  if (own) return own[1];
  if (url.startsWith('node:')) return url.split('/')[0].replace(/^(node:[^_]+).*$/, '$1');
  return url;
}

/** User and system CPU time of a process so far, in milliseconds (/proc; clock ticks of 10 ms). */
function userSystemMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

async function main(): Promise<void> {
  const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
  const connections = Number(process.env.PROFILE_CONNECTIONS ?? 100);
  const target = process.env.PROFILE_TARGET ?? 'mcp';
  const dir = join(__dirname, '..', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  await mkdir(dir, { recursive: true });
  const children: Array<Child<unknown>> = [];
  try {
    const keep = <I>(c: Child<I>): Child<I> => {
      children.push(c as Child<unknown>);
      return c;
    };
    // The bench user, signed in once through the real flow: its token's grant is linked.
    const world = await startWorld(keep);
    await world.loginBridge.stop();
    const port = await freePort();
    const extra: Record<string, string> = { LEGACY_AUTH_STRATEGY: 'local' };
    if (process.env.PROFILE_LOG_LEVEL) extra.LOG_LEVEL = process.env.PROFILE_LOG_LEVEL;
    if (process.env.PROFILE_LOG_FORMAT) extra.LOG_FORMAT = process.env.PROFILE_LOG_FORMAT;
    const bridge = keep(
      await startChild<{ url: string }>('bridge', 'bridge', { env: bridgeEnv(port, world.emulator, extra) }),
    );
    const token = world.token;
    const spec =
      target === 'healthz'
        ? { url: `${bridge.info.url}/healthz`, method: 'GET' as const }
        : {
            url: `${bridge.info.url}/mcp`,
            method: 'POST' as const,
            headers: mcpHeaders(token),
            body: WHOAMI_CALL,
          };
    await runLoad({ ...spec, connections: 10, duration: 2 }, bridge);
    if (process.env.PROFILE_COMPARE === '1' && target === 'mcp') {
      // Unprofiled, same load: the bridge and the true floor (bench/peers/bare-node.ts).
      const floor = keep(
        await startChild<{ url: string }>('floor', 'peer', {
          kind: 'floor',
          issuer: world.emulator.issuer,
          audience: AUDIENCE,
        } satisfies PeerTargetOptions),
      );
      for (const [name, server] of [
        ['floor', floor],
        ['bridge', bridge],
      ] as const) {
        const url = `${server.info.url}/mcp`;
        await runLoad({ ...spec, url, connections, duration: 2 }, server);
        const before = userSystemMs(server.pid);
        const r = await runLoad({ ...spec, url, connections, duration: seconds }, server);
        const after = userSystemMs(server.pid);
        const per = (ms: number) => ((ms * 1000) / r.requests).toFixed(0);
        console.log(
          `${name.padEnd(6)} c=${connections}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms, ${r.cpuUsPerRequest.toFixed(0)} µs CPU per call ` +
            `(user ${per(after.user - before.user)}, system ${per(after.system - before.system)}), errors ${r.errors}`,
        );
      }
    }
    await bridge.call('profileStart');
    const r = await runLoad({ ...spec, connections, duration: seconds }, bridge);
    const profile = await bridge.call<CpuProfile>('profileStop');
    console.log(
      `${target} c=${connections}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}`,
    );
    const file = join(dir, `bridge-${target}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    console.log(`profile: ${file} (open in Chrome DevTools or speedscope)\n`);
    console.log(summarise(profile));
    if (process.env.PROFILE_ALLOCATION === '1') {
      await bridge.call('allocationStart');
      const a = await runLoad({ ...spec, connections, duration: seconds }, bridge);
      const heap = await bridge.call<{ head: AllocationNode }>('allocationStop');
      const heapFile = join(dir, `bridge-${target}.heapprofile`);
      await writeFile(heapFile, JSON.stringify(heap));
      console.log(
        `\nallocation ${target} c=${connections}: ${a.rps.toFixed(0)} req/s; profile: ${heapFile}\n`,
      );
      console.log(summariseAllocation(heap, a.requests));
    }
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
