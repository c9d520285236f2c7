// Verification overhead, measured as a paired comparison: one bridge process answers the same
// tools/call whoami with a real token (verified: bearer parsing, SHA-256, cache lookup) and with a
// marker token it answers without verification (bench/targets/bridge.ts, skipVerification).
// Short blocks alternate (V S, S V, …) so the drift of a process (JIT, GC, the machine) hits both
// sides of each pair alike; the result is the median of the per-pair differences. The 10 s matrix
// rows cannot show a few-µs difference: their rounds move by ±10% on these machines.
import type { Child } from '../lib/child';
import { runLoad, type RawLoadResult } from '../lib/load';
import { settle } from './http';

export interface OverheadRow {
  connections: number;
  pairs: number;
  blockSeconds: number;
  /** Median over pairs of 1 − verified req/s ÷ skipped req/s. */
  throughputOverhead: number;
  /** Interquartile range of the same. */
  throughputOverheadIqr: [number, number];
  /** Median over pairs of verified CPU per call ÷ skipped CPU per call − 1. */
  cpuOverhead: number;
  cpuOverheadIqr: [number, number];
  verifiedRps: number;
  skippedRps: number;
  verifiedCpuUs: number;
  skippedCpuUs: number;
  errors: number;
}

export interface OverheadSpec {
  server: Child;
  url: string;
  body: string;
  headers: (token: string) => Record<string, string>;
  token: string;
  marker: string;
  /** The answer both sides must give, byte for byte. */
  expectBody: string;
}

export async function runOverhead(
  spec: OverheadSpec,
  connections: number[],
  pairs: number,
  blockSeconds: number,
  log: (line: string) => void,
): Promise<OverheadRow[]> {
  const block = (token: string, c: number, duration: number): Promise<RawLoadResult> =>
    runLoad(
      {
        url: spec.url,
        method: 'POST',
        headers: spec.headers(token),
        body: spec.body,
        connections: c,
        duration,
        expectBody: spec.expectBody,
        keepLatencies: false,
      },
      spec.server,
    );
  await block(spec.token, 10, 2);
  await block(spec.marker, 10, 2);
  const rows: OverheadRow[] = [];
  for (const c of connections) {
    const throughput: number[] = [];
    const cpu: number[] = [];
    const v: RawLoadResult[] = [];
    const s: RawLoadResult[] = [];
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? [spec.token, spec.marker] : [spec.marker, spec.token];
      const got = new Map<string, RawLoadResult>();
      for (const token of order) {
        await settle([spec.server]);
        got.set(token, await block(token, c, blockSeconds));
      }
      const verified = got.get(spec.token)!;
      const skipped = got.get(spec.marker)!;
      v.push(verified);
      s.push(skipped);
      throughput.push(1 - verified.rps / skipped.rps);
      cpu.push(verified.cpuUsPerRequest / skipped.cpuUsPerRequest - 1);
    }
    const row: OverheadRow = {
      connections: c,
      pairs,
      blockSeconds,
      throughputOverhead: quantile(throughput, 0.5),
      throughputOverheadIqr: [quantile(throughput, 0.25), quantile(throughput, 0.75)],
      cpuOverhead: quantile(cpu, 0.5),
      cpuOverheadIqr: [quantile(cpu, 0.25), quantile(cpu, 0.75)],
      verifiedRps: median(v, (r) => r.rps),
      skippedRps: median(s, (r) => r.rps),
      verifiedCpuUs: median(v, (r) => r.cpuUsPerRequest),
      skippedCpuUs: median(s, (r) => r.cpuUsPerRequest),
      errors: [...v, ...s].reduce((n, r) => n + r.errors, 0),
    };
    rows.push(row);
    const p = (x: number) => `${(x * 100).toFixed(1)}%`;
    log(
      `  c=${String(c).padStart(3)}  ${pairs} pairs of ${blockSeconds} s: throughput overhead ${p(row.throughputOverhead)} ` +
        `(IQR ${p(row.throughputOverheadIqr[0])} … ${p(row.throughputOverheadIqr[1])}), CPU per call ${p(row.cpuOverhead)} ` +
        `(${row.verifiedCpuUs.toFixed(0)} vs ${row.skippedCpuUs.toFixed(0)} µs), errors ${row.errors}`,
    );
  }
  return rows;
}

/** Linear-interpolated quantile of unsorted values. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

const median = (runs: RawLoadResult[], of: (r: RawLoadResult) => number): number =>
  quantile(runs.map(of), 0.5);
