// Verified tools/call whoami on the bridge's /mcp and its baselines, run side by side: for each
// connection count, every target in turn (so machine noise hits them all alike).
import type { Child } from '../lib/child';
import { combine, runLoad, type LoadResult, type RawLoadResult } from '../lib/load';

export interface HttpTarget {
  /** Row label in the results. */
  scenario: string;
  server: Child;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Checks the first answer (throws when wrong); its body becomes autocannon's expectBody. */
  check: (status: number, body: string) => void;
  /** Per-request Authorization values, in turn (then no body check under load). */
  rotateAuthorization?: string[];
  /** Connection counts this target runs at (default: all). */
  connections?: number[];
}

export interface HttpRow extends LoadResult {
  scenario: string;
}

/** One request with fetch: the answer must pass `check`; returns its body. */
async function precheck(t: HttpTarget): Promise<string> {
  const res = await fetch(t.url, {
    method: t.method,
    headers: { ...t.headers, ...(t.rotateAuthorization ? { authorization: t.rotateAuthorization[0] } : {}) },
    body: t.body,
  });
  const body = await res.text();
  t.check(res.status, body);
  return body;
}

export async function runHttpMatrix(
  targets: HttpTarget[],
  connections: number[],
  duration: number,
  rounds: number,
  warmup: number,
  log: (line: string) => void,
): Promise<HttpRow[]> {
  const servers = [...new Set(targets.map((t) => t.server))];
  const expected = new Map<HttpTarget, string>();
  for (const t of targets) {
    expected.set(t, await precheck(t));
    await run(t, 10, warmup, undefined);
  }
  const rows: HttpRow[] = [];
  for (const c of connections) {
    const active = targets.filter((t) => !t.connections || t.connections.includes(c));
    const results = new Map<HttpTarget, RawLoadResult[]>(active.map((t) => [t, []]));
    // Rounds interleave the targets (A B C, A B C, …) so a noisy moment hits them all alike.
    for (let round = 0; round < rounds; round++) {
      for (const t of active) {
        await settle(servers);
        results.get(t)!.push(await run(t, c, duration, expected.get(t)));
      }
    }
    for (const t of active) {
      const r = combine(results.get(t)!);
      rows.push({ scenario: t.scenario, ...r });
      log(
        `  ${t.scenario.padEnd(44)} c=${String(c).padStart(3)}  ${r.rps.toFixed(0).padStart(6)} req/s  ` +
          `p50 ${r.p50.toFixed(2)}  p99 ${r.p99.toFixed(2)}  max ${r.max.toFixed(1)} ms  ` +
          `cpu ${r.cpuUsPerRequest.toFixed(0)} µs/req  errors ${r.errors}  rss ${r.peakRssMB.toFixed(0)} MB` +
          (rounds > 1 ? `  rounds ${r.roundRps?.join(' ')}` : ''),
      );
    }
  }
  return rows;
}

/**
 * Waits (at most 10 s) until the servers under test are idle: a server still working off the
 * previous run's backlog would otherwise steal the next run's CPU.
 */
export async function settle(servers: Array<Pick<HttpTarget['server'], 'cpuMs'>>): Promise<void> {
  const total = () => servers.reduce((n, s) => n + (s.cpuMs() ?? 0), 0);
  const deadline = Date.now() + 10_000;
  let before = total();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const now = total();
    if (now - before <= 20) return;
    before = now;
  }
}

function run(
  t: HttpTarget,
  connections: number,
  duration: number,
  expectBody?: string,
): Promise<RawLoadResult> {
  return runLoad(
    {
      url: t.url,
      method: t.method,
      headers: t.headers,
      body: t.body,
      connections,
      duration,
      expectBody,
      rotateAuthorization: t.rotateAuthorization,
    },
    t.server,
  );
}
