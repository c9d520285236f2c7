// Memory and leaks: a fresh bridge (started with --expose-gc and the Node flags under test) answers
// BENCH_MEMORY_CALLS verified tools/call whoami at BENCH_MEMORY_CONNECTIONS connections. Its RSS is
// read idle, then after a warm-up the heap is collected and RSS read; then again after each tenth
// of the calls. Flat means the last reading is within a few MB of the first; the peak is the
// highest RSS read from /proc (every 100 ms) while it worked.
import type { Child } from '../lib/child';
import { runLoad } from '../lib/load';

export interface MemorySample {
  calls: number;
  rssMB: number;
  heapUsedMB: number;
  /** Memory outside the JS heap that V8 knows of: Buffers and ArrayBuffers (PGlite's WASM memory is one). */
  externalMB?: number;
}
export interface MemoryResult {
  /** What this run is (e.g. the Node flags it ran with). */
  label?: string;
  database?: 'PGlite' | 'PostgreSQL';
  /** The Node flags of the bridge (besides --expose-gc). */
  nodeFlags?: string[];
  /** RSS of the idle instance, before the first call. */
  idleRssMB?: number;
  calls: number;
  connections: number;
  rps: number;
  errors: number;
  samples: MemorySample[];
  /** Last sample minus the one after warm-up. */
  rssGrowthMB: number;
  heapGrowthMB: number;
  peakRssMB: number;
}

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
}

export async function runMemory(
  server: Child,
  request: { url: string; headers: Record<string, string>; body: string; expectBody: string },
  totalCalls: number,
  log: (line: string) => void,
  connections = 50,
): Promise<MemoryResult> {
  const idleRssMB = (await server.rss()) / 2 ** 20;
  log(`  idle: rss ${idleRssMB.toFixed(1)} MB`);
  const warmup = Math.min(100_000, Math.max(1000, Math.round(totalCalls / 10)));
  const chunks = 10;
  const chunk = Math.max(1, Math.round((totalCalls - warmup) / chunks));
  const samples: MemorySample[] = [];
  const sample = async (calls: number) => {
    const m = await server.call<Mem>('gc');
    samples.push({
      calls,
      rssMB: m.rss / 2 ** 20,
      heapUsedMB: m.heapUsed / 2 ** 20,
      externalMB: m.external / 2 ** 20,
    });
    log(
      `  after ${calls} calls: rss ${(m.rss / 2 ** 20).toFixed(1)} MB, heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MB, ` +
        `external ${(m.external / 2 ** 20).toFixed(1)} MB`,
    );
  };
  let calls = 0;
  let errors = 0;
  let seconds = 0;
  let peak = 0;
  const go = async (amount: number) => {
    const r = await runLoad(
      { ...request, method: 'POST', connections, amount, keepLatencies: false },
      server,
    );
    calls += r.requests;
    errors += r.errors;
    seconds += r.seconds;
    peak = Math.max(peak, r.peakRssMB);
    return r;
  };
  const w = await go(warmup);
  seconds -= w.seconds;
  const warmCalls = calls;
  await sample(calls);
  for (let i = 0; i < chunks; i++) {
    await go(chunk);
    await sample(calls);
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  return {
    idleRssMB,
    calls,
    connections,
    rps: (calls - warmCalls) / seconds,
    errors,
    samples,
    rssGrowthMB: last.rssMB - first.rssMB,
    heapGrowthMB: last.heapUsedMB - first.heapUsedMB,
    peakRssMB: peak,
  };
}
