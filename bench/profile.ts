// `node dist-bench/bench/profile.js` (after `tsc -p tsconfig.bench.json`): CPU profile of the bridge
// answering verified tools/call whoami at 100 connections, summarised by package and function.
//   PROFILE_TARGET=mcp|healthz   PROFILE_SECONDS=10   PROFILE_CONNECTIONS=100
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startChild, type Child } from './lib/child';
import {
  AUDIENCE,
  CLIENT_ID,
  CLIENT_REDIRECT,
  WHOAMI_CALL,
  bridgeEnv,
  freePort,
  mcpHeaders,
} from './lib/env';
import { runLoad } from './lib/load';
import type { Emulator } from './scenarios/login';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per package (node_modules/<pkg>, src/…, node:…), in percent. */
export function summarise(profile: CpuProfile, top = 25): string {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    if (!t) continue;
    const url = n.callFrame.url;
    const pkg = packageOf(url, n.callFrame.functionName);
    const file = url.replace(/^.*\/(node_modules|dist-bench)\//, '').replace(/^file:\/\//, '');
    const fn = `${n.callFrame.functionName || '(anonymous)'}  ${file}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  }
  const fmt = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, t]) => `${((t / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  return `by package (self time, ${(total / 1e6).toFixed(1)} s sampled):\n${fmt(byPkg, 30)}\n\nby function:\n${fmt(byFn, top)}`;
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

async function main(): Promise<void> {
  const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
  const connections = Number(process.env.PROFILE_CONNECTIONS ?? 100);
  const target = process.env.PROFILE_TARGET ?? 'mcp';
  const dir = join(__dirname, '..', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  await mkdir(dir, { recursive: true });
  const children: Array<Child<unknown>> = [];
  try {
    const port = await freePort();
    const emulatorChild = await startChild<Emulator>('emulator', 'emulator', {
      loginUri: `http://127.0.0.1:${port}/auth/login`,
      clients: [{ clientId: CLIENT_ID, redirectUris: [CLIENT_REDIRECT] }],
    });
    children.push(emulatorChild);
    const bridge = await startChild<{ url: string }>('bridge', 'bridge', {
      env: bridgeEnv(
        port,
        emulatorChild.info,
        process.env.PROFILE_LOG_LEVEL ? { LOG_LEVEL: process.env.PROFILE_LOG_LEVEL } : {},
      ),
    });
    children.push(bridge);
    const token = await emulatorChild.call<string>('mint', [{ aud: AUDIENCE }, { expiresInSeconds: 3600 }]);
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
