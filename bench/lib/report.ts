// Results: bench/results/<date>.json, a markdown table (printed and in bench/results/latest.md),
// and a chart of throughput and p99 per scenario (bench/results/latest.svg: vega-lite compiled and
// rendered to SVG by vega in Node, no canvas).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpRow } from '../scenarios/http';
import type { LoginResult } from '../scenarios/login';
import type { MemoryResult } from '../scenarios/memory';
import type { SigninUnderLoadResult } from '../scenarios/signin-load';
import type { OverheadRow } from '../scenarios/overhead';
import type { VerifyResult } from '../scenarios/verify';
import type { machine } from './env';

export interface TargetCheck {
  target: string;
  measured: string;
  required: string;
  met: boolean;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machine>;
  settings: Record<string, unknown>;
  load: { before: number[]; after: number[] };
  http: HttpRow[];
  login: LoginResult[];
  verify?: VerifyResult;
  /** Paired verified/skipped blocks in one process (the verification overhead target). */
  overhead?: OverheadRow[];
  /** One run per set of Node flags (older results files hold a single run). */
  memory?: MemoryResult[] | MemoryResult;
  /** Sign-ins on an idle instance, then while it answers MCP traffic. */
  signin?: SigninUnderLoadResult[];
  targets?: TargetCheck[];
}

export const RESULTS_DIR = join(__dirname, '..', '..', '..', 'bench', 'results');

const VERIFIED = 'bridge /mcp (verified)';
const SKIPPED = 'bridge /mcp (verification skipped)';
/** The /mcp row of the BENCH_CANDIDATE checkout's bridge. */
export const candidateScenario = (label: string): string => `${label} bridge /mcp (verified)`;
const BARE = 'bare node:http + jose (every call verified)';
/** The true floor: a bare server that remembers a verified token by its string until `exp`. */
const FLOOR = 'bare node:http + jose, verified tokens remembered (true floor)';
/** The bridge with production log settings (LOG_LEVEL info, JSON lines). */
export const PRODUCTION_LOGS = 'bridge /mcp, production log settings (LOG_LEVEL=info, JSON lines)';
/** The same, run with the container image's Node flags (the Dockerfile's NODE_OPTIONS). */
export const PRODUCTION_IMAGE = 'bridge /mcp, production log settings, container image flags';
/** Its name in results files before 2026-12-01T19 (then at info in the pretty format of development). */
const INFO_BEFORE = 'bridge /mcp, LOG_LEVEL=info';
const RECHECKS = 'bridge /mcp, rechecks on (LEGACY_USER_URL, every 10 s)';
const SDK = 'v1 SDK peer (requireBearerAuth)';
/** "Within a few MB": the RSS growth allowed over the memory run. */
const MEMORY_FLAT_MB = 5;

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** The memory runs of a results file, old (one run) or new (a list). */
export const memoryRuns = (r: BenchResults): MemoryResult[] =>
  r.memory === undefined ? [] : Array.isArray(r.memory) ? r.memory : [r.memory];

/** The RSS a container limit of 256 MiB leaves room for (the memory target). */
const MEMORY_LIMIT_MB = 256;

export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const plural = (c: number) => `${c} connection${c === 1 ? '' : 's'}`;
  const top = Math.max(...r.http.map((h) => h.connections));
  const at = (scenario: string, c: number) =>
    r.http.find((h) => h.scenario === scenario && h.connections === c);
  const bridge = at(VERIFIED, top);
  const sdk = at(SDK, top);
  const bare = at(BARE, top);
  if (bridge && sdk) {
    const ratio = bridge.rps / sdk.rps;
    checks.push({
      target: `throughput at ${top} connections vs. the SDK peer`,
      measured: `${ratio.toFixed(2)}× (${f0(bridge.rps)} vs ${f0(sdk.rps)} req/s)`,
      required: '≥ 1.2×',
      met: ratio >= 1.2,
    });
  }
  if (bridge && bare) {
    const ratio = bridge.rps / bare.rps;
    checks.push({
      target: `throughput at ${top} connections vs. the bare node:http floor`,
      measured: `${pct(ratio)} (${f0(bridge.rps)} vs ${f0(bare.rps)} req/s)`,
      required: '≥ 60%',
      met: ratio >= 0.6,
    });
  }
  for (const c of [...new Set(r.http.map((h) => h.connections))].sort((a, b) => a - b)) {
    const v = at(VERIFIED, c);
    if (!v) continue;
    const floor = at(BARE, c);
    checks.push({
      target: `p99 of a verified call at ${plural(c)}`,
      measured: `${f2(v.p99)} ms${floor ? ` (bare floor: ${f2(floor.p99)} ms)` : ''}`,
      required: '< 10 ms',
      met: v.p99 < 10,
    });
  }
  for (const c of [...new Set(r.http.map((h) => h.connections))].sort((a, b) => a - b)) {
    const info = at(PRODUCTION_LOGS, c) ?? at(INFO_BEFORE, c);
    const floor = at(FLOOR, c);
    if (!info || !floor) continue;
    const ratio = info.rps / floor.rps;
    checks.push({
      target: `verified tools/call with production log settings (LOG_LEVEL info, JSON) vs. the true floor at ${plural(c)}`,
      measured: `${pct(ratio)} (${f0(info.rps)} vs ${f0(floor.rps)} req/s; p99 ${f2(info.p99)} vs ${f2(floor.p99)} ms; CPU ${f0(info.cpuUsPerRequest)} vs ${f0(floor.cpuUsPerRequest)} µs per call)`,
      required: '≥ 50%',
      met: ratio >= 0.5,
    });
    const image = at(PRODUCTION_IMAGE, c);
    if (!image) continue;
    const imageRatio = image.rps / floor.rps;
    checks.push({
      target: `the same with the container image's Node flags at ${plural(c)}`,
      measured: `${pct(imageRatio)} (${f0(image.rps)} vs ${f0(floor.rps)} req/s; p99 ${f2(image.p99)} vs ${f2(floor.p99)} ms; CPU ${f0(image.cpuUsPerRequest)} vs ${f0(floor.cpuUsPerRequest)} µs per call)`,
      required: '≥ 50%',
      met: imageRatio >= 0.5,
    });
  }
  for (const c of [...new Set(r.http.map((h) => h.connections))].sort((a, b) => a - b)) {
    const on = at(RECHECKS, c);
    const off = at(VERIFIED, c);
    if (!on || !off) continue;
    const change = on.rps / off.rps - 1;
    checks.push({
      target: `throughput with rechecks on vs. off at ${plural(c)}`,
      measured: `${change >= 0 ? '+' : ''}${pct(change)} (${f0(on.rps)} vs ${f0(off.rps)} req/s; p99 ${f2(on.p99)} vs ${f2(off.p99)} ms)`,
      required: 'within the spread of rounds (±10%)',
      met: Math.abs(change) <= 0.1,
    });
  }
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${pct(x)}`;
  if (r.overhead?.length) {
    // The paired blocks of one process: the matrix rows below differ by more than the overhead
    // between rounds, so they are shown but not judged.
    for (const o of r.overhead) {
      checks.push({
        target: `verification overhead at ${plural(o.connections)} (median of ${o.pairs} paired ${o.blockSeconds} s blocks)`,
        measured:
          `throughput ${signed(o.throughputOverhead)} (IQR ${signed(o.throughputOverheadIqr[0])} … ${signed(o.throughputOverheadIqr[1])}; ` +
          `${f0(o.verifiedRps)} vs ${f0(o.skippedRps)} req/s); CPU per call ${signed(o.cpuOverhead)} ` +
          `(${f0(o.verifiedCpuUs)} vs ${f0(o.skippedCpuUs)} µs)`,
        required: '< 5%',
        met: o.throughputOverhead < 0.05,
      });
    }
  } else {
    for (const c of [...new Set(r.http.map((h) => h.connections))]) {
      const v = at(VERIFIED, c);
      const s = at(SKIPPED, c);
      if (!v || !s) continue;
      const overhead = 1 - v.rps / s.rps;
      const cpu = v.cpuUsPerRequest / s.cpuUsPerRequest - 1;
      checks.push({
        target: `verification overhead at ${plural(c)} (throughput, matrix rounds)`,
        measured:
          `${pct(overhead)} (${f0(v.rps)} vs ${f0(s.rps)} req/s); ` +
          `server CPU per call ${signed(cpu)} (${f0(v.cpuUsPerRequest)} vs ${f0(s.cpuUsPerRequest)} µs)`,
        required: '< 5%',
        met: overhead < 0.05,
      });
    }
  }
  const cand = at(candidateScenario(String(r.settings.candidateLabel ?? 'candidate')), top);
  if (cand && sdk && bare) {
    checks.push({
      target: `${String(r.settings.candidateLabel ?? 'candidate')} (BENCH_CANDIDATE) at ${top} connections vs. the SDK peer / the floor`,
      measured: `${(cand.rps / sdk.rps).toFixed(2)}× / ${pct(cand.rps / bare.rps)} (${f0(cand.rps)} req/s, ${f0(cand.cpuUsPerRequest)} µs CPU per call)`,
      required: '≥ 1.2× / ≥ 60%',
      met: cand.rps / sdk.rps >= 1.2 && cand.rps / bare.rps >= 0.6,
    });
  }
  const runsWithErrors = [
    ...r.http.filter((h) => h.errors > 0).map((h) => `${h.scenario} c=${h.connections}: ${h.errors}`),
    ...r.login.filter((l) => l.errors > 0).map((l) => `login ${l.database} c=${l.concurrency}: ${l.errors}`),
    ...memoryRuns(r)
      .filter((m) => m.errors > 0)
      .map((m) => `memory (${m.label ?? 'run'}): ${m.errors}`),
    ...(r.signin ?? [])
      .filter((x) => x.idle.errors + x.loaded.errors + x.mcp.errors > 0)
      .map(
        (x) =>
          `sign-ins under load (${x.strategy}): ${x.idle.errors + x.loaded.errors} flows, ${x.mcp.errors} MCP`,
      ),
    ...(r.overhead ?? []).filter((o) => o.errors > 0).map((o) => `overhead c=${o.connections}: ${o.errors}`),
  ];
  checks.push({
    target: 'zero errors in every run',
    measured: runsWithErrors.length ? runsWithErrors.join('; ') : '0',
    required: '0',
    met: runsWithErrors.length === 0,
  });
  for (const s of (r.signin ?? []).filter((x) => x.bridge === undefined)) {
    checks.push({
      target: `${s.strategy} sign-in (${s.database}) with ${s.mcpConnections} MCP connections on the instance: p99; median vs. idle`,
      measured: `${f0(s.loaded.p99)} ms; ${f1(s.medianRatio)}× (${f1(s.loaded.p50)} vs. ${f1(s.idle.p50)} ms)`,
      required: '≤ 500 ms; ≤ 4×',
      met: s.loaded.p99 <= 500 && s.medianRatio <= 4,
    });
  }
  const [mem] = memoryRuns(r);
  if (mem) {
    const where = `${mem.database ?? 'PGlite'}${mem.label ? `, ${mem.label}` : ''}`;
    checks.push({
      target: `RSS flat over ${mem.calls.toLocaleString('en')} verified calls (after warm-up; ${where})`,
      measured: `${mem.rssGrowthMB >= 0 ? '+' : ''}${f1(mem.rssGrowthMB)} MB RSS, ${mem.heapGrowthMB >= 0 ? '+' : ''}${f1(mem.heapGrowthMB)} MB heap`,
      required: `≤ ${MEMORY_FLAT_MB} MB`,
      met: mem.rssGrowthMB <= MEMORY_FLAT_MB,
    });
    checks.push({
      target: `peak RSS under sustained load (${mem.connections} connections; ${where})`,
      measured: `${f0(mem.peakRssMB)} MB (idle ${f0(mem.idleRssMB ?? NaN)} MB)`,
      required: `≤ ${MEMORY_LIMIT_MB} MB`,
      met: mem.peakRssMB <= MEMORY_LIMIT_MB,
    });
  }
  return checks;
}

export function markdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# connect-bridge benchmark, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '');
  out.push(
    `${m.cores} × ${m.cpu}, ${m.memoryGB} GB, ${m.os}, Node ${m.node}. Load average (1/5/15 min) ` +
      `${r.load.before.join(' / ')} before, ${r.load.after.join(' / ')} after. ` +
      `Each scenario: ${r.settings.rounds} interleaved round(s) of ${r.settings.duration} s (req/s: the median round; ` +
      'latency percentiles over all requests of all rounds; server CPU per request from /proc). ' +
      `Load generator (autocannon) in the parent process, each server in its own process, all on the same ${m.cores} cores.`,
    '',
  );
  if (r.http.length) {
    out.push('## Verified `tools/call whoami` and baselines', '');
    out.push(
      '| scenario | connections | req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req | peak RSS MB |',
    );
    out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
    const order = [...new Set(r.http.map((h) => h.scenario))];
    const rows = [...r.http].sort(
      (a, b) => a.connections - b.connections || order.indexOf(a.scenario) - order.indexOf(b.scenario),
    );
    for (const h of rows) {
      out.push(
        `| ${h.scenario} | ${h.connections} | ${f0(h.rps)} | ${f2(h.p50)} | ${f2(h.p99)} | ${f1(h.max)} | ${h.errors} | ${f0(h.cpuUsPerRequest)} | ${f0(h.peakRssMB)} |`,
      );
    }
    out.push('');
  }
  if (r.overhead?.length) {
    out.push('## Verification overhead: one bridge, verified and skipped blocks in turn', '');
    out.push(
      'The same process answers a real token (bearer parsing, SHA-256, cache lookup) and a marker token it ' +
        'answers with no verification at all; blocks alternate V S, S V, … and each pair gives one difference.',
      '',
    );
    out.push(
      '| connections | pairs × block | throughput overhead, median (IQR) | verified / skipped req/s | CPU per call, median (IQR) | verified / skipped µs | errors |',
    );
    out.push('|--:|--:|--:|--:|--:|--:|--:|');
    for (const o of r.overhead) {
      out.push(
        `| ${o.connections} | ${o.pairs} × ${o.blockSeconds} s | ${pct(o.throughputOverhead)} (${pct(o.throughputOverheadIqr[0])} … ${pct(o.throughputOverheadIqr[1])}) | ${f0(o.verifiedRps)} / ${f0(o.skippedRps)} | ${pct(o.cpuOverhead)} (${pct(o.cpuOverheadIqr[0])} … ${pct(o.cpuOverheadIqr[1])}) | ${f0(o.verifiedCpuUs)} / ${f0(o.skippedCpuUs)} | ${o.errors} |`,
      );
    }
    out.push('');
  }
  if (r.verify) {
    const v = r.verify;
    out.push('## Token verification (in process, one core)', '');
    out.push('| measure | result |', '|---|--:|');
    out.push(
      `| bridge hot path: token seen before (SHA-256 + cache) | ${f0(v.cacheHit.opsPerSecond)}/s (${f2(v.cacheHit.meanMicroseconds)} µs) |`,
    );
    out.push(
      `| full verification, key cached (AccessTokenVerifier, RS256) | ${f0(v.verifyCachedKey.opsPerSecond)}/s (${f1(v.verifyCachedKey.meanMicroseconds)} µs) |`,
    );
    out.push(
      `| plain jose jwtVerify, local key set (reference) | ${f0(v.joseReference.opsPerSecond)}/s (${f1(v.joseReference.meanMicroseconds)} µs) |`,
    );
    out.push(
      `| made-up kid within the refetch cooldown (refused, no fetch) | ${f0(v.unknownKidInCooldown.opsPerSecond)}/s (${f1(v.unknownKidInCooldown.meanMicroseconds)} µs) |`,
    );
    out.push(
      `| key cache miss: new kid → JWKS refetch + verify (p50 / max of ${v.keyRefetch.samples}) | ${f2(v.keyRefetch.p50Ms)} / ${f2(v.keyRefetch.maxMs)} ms |`,
    );
    out.push(
      `| cold start: first verification, first JWKS fetch (p50 / max of ${v.coldStart.samples}) | ${f2(v.coldStart.p50Ms)} / ${f2(v.coldStart.maxMs)} ms |`,
    );
    out.push('');
  }
  if (r.login.length) {
    out.push('## Login flow, `local` strategy, against the emulator', '');
    out.push('| database | concurrent browsers | flows | flows/s | p50 ms | p99 ms | max ms | errors |');
    out.push('|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const l of r.login) {
      out.push(
        `| ${l.database} | ${l.concurrency} | ${l.flows} | ${f1(l.flowsPerSecond)} | ${f1(l.p50)} | ${f1(l.p99)} | ${f1(l.max)} | ${l.errors} |`,
      );
    }
    out.push('');
  }
  if (r.signin?.length) {
    out.push('## Sign-ins while the instance answers MCP traffic', '');
    out.push(
      'One complete flow at a time (authorize at the emulator → the bridge → the legacy login → completion → the ' +
        "client's redirect), first on the idle instance, then while a load generator in its own process sends " +
        '`tools/call whoami` to the same instance. The bridge logs at `info` (JSON lines).',
      '',
    );
    out.push(
      '| bridge | strategy | database | idle p50 / p99 ms | under load p50 / p99 / max ms | median vs. idle | flows idle / loaded | MCP meanwhile | statements per sign-in | errors |',
    );
    out.push('|---|---|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const x of r.signin) {
      out.push(
        `| ${x.bridge ?? 'this tree'} | ${x.strategy} | ${x.database} | ${f1(x.idle.p50)} / ${f1(x.idle.p99)} | ${f1(x.loaded.p50)} / ${f1(x.loaded.p99)} / ${f1(x.loaded.max)} | ${f1(x.medianRatio)}× | ${x.idle.flows} / ${x.loaded.flows} | ${f0(x.mcp.rps)} req/s at ${x.mcpConnections} conn., p99 ${f1(x.mcp.p99)} ms | ${x.statementsPerSignin === undefined ? '–' : f1(x.statementsPerSignin)} | ${x.idle.errors + x.loaded.errors + x.mcp.errors} |`,
      );
    }
    out.push('');
  }
  for (const mem of memoryRuns(r)) {
    out.push(
      `## Memory: ${mem.calls.toLocaleString('en')} verified calls, ${mem.connections} connections${mem.label ? `, ${mem.label}` : ''}${mem.database ? ` (${mem.database})` : ''}`,
      '',
    );
    out.push(
      `${f0(mem.rps)} req/s, ${mem.errors} errors, idle RSS ${f0(mem.idleRssMB ?? NaN)} MB, peak RSS under load ${f0(mem.peakRssMB)} MB. After a full GC at each point:`,
      '',
    );
    out.push('| calls | RSS MB | heap used MB | external MB |', '|--:|--:|--:|--:|');
    for (const s of mem.samples)
      out.push(
        `| ${s.calls.toLocaleString('en')} | ${f1(s.rssMB)} | ${f1(s.heapUsedMB)} | ${s.externalMB === undefined ? '–' : f1(s.externalMB)} |`,
      );
    out.push('');
  }
  if (r.targets?.length) {
    out.push('## Targets', '');
    out.push('| target | measured | required | met |', '|---|---|---|---|');
    for (const t of r.targets)
      out.push(`| ${t.target} | ${t.measured} | ${t.required} | ${t.met ? 'yes' : '**no**'} |`);
    out.push('');
  }
  return out.join('\n');
}

/** Throughput and p99 per scenario and connection count, as an SVG string. */
export async function chart(r: BenchResults): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const values = r.http.map((h) => ({
    scenario: h.scenario,
    connections: `${h.connections} conn.`,
    rps: Math.round(h.rps),
    p99: Math.round(h.p99 * 100) / 100,
  }));
  const order = [...new Set(values.map((v) => v.scenario))];
  const connections = [...new Set(r.http.map((h) => h.connections))]
    .sort((a, b) => a - b)
    .map((c) => `${c} conn.`);
  const panel = (field: 'rps' | 'p99', title: string) => ({
    width: 420,
    height: 260,
    title,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'scenario', type: 'nominal', sort: order, title: null, axis: { labelLimit: 400 } },
      yOffset: { field: 'connections', type: 'nominal', sort: connections },
      x: { field, type: 'quantitative', title },
      color: {
        field: 'connections',
        type: 'nominal',
        title: 'connections',
        sort: connections,
      },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `connect-bridge: verified tools/call and baselines (${r.machine.cores} cores, ${r.startedAt.slice(0, 10)})`,
    data: { values },
    hconcat: [
      panel('rps', 'requests/s (higher is better)'),
      panel('p99', 'p99 latency, ms (lower is better)'),
    ],
    config: { font: 'sans-serif' },
  };
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes the JSON, latest.md and latest.svg (when `write`); returns the markdown. */
export async function writeResults(r: BenchResults, write: boolean): Promise<string> {
  const text = markdown(r);
  if (!write) return text;
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = r.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  await writeFile(join(RESULTS_DIR, `${stamp}.json`), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(join(RESULTS_DIR, 'latest.md'), `${text}\n`);
  if (r.http.length) await writeFile(join(RESULTS_DIR, 'latest.svg'), await chart(r));
  return text;
}
