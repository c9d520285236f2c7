// One autocannon run against one server under test, with exact latency percentiles (autocannon's
// own histogram has 1 ms resolution, too coarse here) and the server's peak RSS sampled from /proc.
import autocannon from 'autocannon';
import type { Child } from './child';

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** Seconds (a timed run) … */
  duration?: number;
  /** … or a number of requests. */
  amount?: number;
  /** Every response body must equal this (a mismatch counts as an error). */
  expectBody?: string;
  /** Per-request Authorization values, used in turn (no expectBody then). */
  rotateAuthorization?: string[];
  /** Keep per-request latencies for exact percentiles (off for very long runs). */
  keepLatencies?: boolean;
}

export interface LoadResult {
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Socket errors + timeouts + non-2xx + body mismatches. */
  errors: number;
  detail: { errors: number; timeouts: number; non2xx: number; mismatches: number };
  peakRssMB: number;
  /** Server CPU time (user + system) per answered request, in microseconds: less noisy than req/s. */
  cpuUsPerRequest: number;
  /** Rounds combined into this result (see combine). */
  rounds?: number;
  /** req/s of each round. */
  roundRps?: number[];
}

/** A run's result plus what combine() needs; the extras are not kept in the results file. */
export interface RawLoadResult extends LoadResult {
  latencies: Float64Array;
  cpuMs: number;
}

/**
 * Several rounds of the same scenario as one result: req/s is the median round's, latency
 * percentiles over every request of every round, CPU per request over all of them.
 */
export function combine(rounds: RawLoadResult[]): LoadResult {
  const all = new Float64Array(rounds.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of rounds) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  all.sort();
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const rps = rounds.map((r) => r.rps);
  const sorted = [...rps].sort((a, b) => a - b);
  const sum = (f: (r: RawLoadResult) => number) => rounds.reduce((n, r) => n + f(r), 0);
  const detail = {
    errors: sum((r) => r.detail.errors),
    timeouts: sum((r) => r.detail.timeouts),
    non2xx: sum((r) => r.detail.non2xx),
    mismatches: sum((r) => r.detail.mismatches),
  };
  return {
    connections: rounds[0].connections,
    requests,
    seconds: sum((r) => r.seconds),
    rps: sorted[Math.floor((sorted.length - 1) / 2)],
    p50: all.length ? percentile(all, 50) : NaN,
    p99: all.length ? percentile(all, 99) : NaN,
    max: all.length ? all[all.length - 1] : NaN,
    mean: all.length ? all.reduce((a, b) => a + b, 0) / all.length : NaN,
    errors: sum((r) => r.errors),
    detail,
    peakRssMB: Math.max(...rounds.map((r) => r.peakRssMB)),
    cpuUsPerRequest: requests > 0 ? (sum((r) => r.cpuMs) * 1000) / requests : NaN,
    rounds: rounds.length,
    roundRps: rps.map((x) => Math.round(x)),
  };
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function runLoad(spec: LoadSpec, server?: Pick<Child, 'rss' | 'cpuMs'>): Promise<RawLoadResult> {
  const latencies: number[] = [];
  let peakRss = 0;
  let sampling = true;
  const sampler = (async () => {
    while (server && sampling) {
      peakRss = Math.max(peakRss, await server.rss().catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const rotation = spec.rotateAuthorization;
  let turn = 0;
  const options: autocannon.Options = {
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    pipelining: 1,
    timeout: 10,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration ?? 10 }),
    ...(spec.expectBody !== undefined && !rotation ? { expectBody: spec.expectBody } : {}),
    ...(rotation
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                headers: { ...req.headers, authorization: rotation[turn++ % rotation.length] },
              }),
            },
          ],
        }
      : {}),
  };
  const started = process.hrtime.bigint();
  const cpuBefore = server?.cpuMs();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    if (spec.keepLatencies !== false) {
      instance.on('response', (_client, _status, _bytes, responseTime) => {
        latencies.push(responseTime);
      });
    }
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = server?.cpuMs();
  sampling = false;
  await sampler;
  const sorted = Float64Array.from(latencies).sort();
  const total = result.requests.total;
  const useOwn = sorted.length > 0;
  const detail = {
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches ?? 0,
  };
  return {
    connections: spec.connections,
    requests: total,
    seconds: result.duration || seconds,
    rps: total / (result.duration || seconds),
    p50: useOwn ? percentile(sorted, 50) : result.latency.p50,
    p99: useOwn ? percentile(sorted, 99) : result.latency.p99,
    max: useOwn ? sorted[sorted.length - 1] : result.latency.max,
    mean: useOwn ? sorted.reduce((a, b) => a + b, 0) / sorted.length : result.latency.mean,
    errors: detail.errors + detail.timeouts + detail.non2xx + detail.mismatches,
    detail,
    peakRssMB: peakRss / 2 ** 20,
    cpuUsPerRequest:
      cpuBefore !== undefined && cpuAfter !== undefined && total > 0
        ? ((cpuAfter - cpuBefore) * 1000) / total
        : NaN,
    latencies: sorted,
    cpuMs: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : NaN,
  };
}
