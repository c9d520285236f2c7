// Sign-ins while the same instance is busy with MCP traffic: a bridge (production log settings:
// LOG_LEVEL info, JSON lines) answers `tools/call whoami` from a load generator in its own process
// (100 connections by default) while this process signs in, one complete flow after another, and
// times each flow; the same flows on the idle instance first, in the same run. Two strategies:
// `local` (the bridge's own form, argon2) and `session-introspection` (the fake legacy app's own
// login page, then the bridge asks the legacy app who the session is).
import { randomBytes } from 'node:crypto';
import { Browser } from '../../test/login/browser';
import { startLegacyApp, type LegacyApp } from '../../test/fixtures/legacy-app';
import { startChild, type Child } from '../lib/child';
import { CLIENT_REDIRECT, WHOAMI_CALL, bridgeEnv, mcpHeaders } from '../lib/env';
import { percentile, type LoadResult } from '../lib/load';
import type { BridgeTargetOptions } from '../targets/bridge';
import { authorizeUrl, loginFlow, type Emulator } from './login';

export type SigninStrategy = 'local' | 'session-introspection';

export interface Timings {
  flows: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  firstError?: string;
}

export interface SigninUnderLoadResult {
  /** Which bridge: this tree's, or the BENCH_CANDIDATE's (its label). */
  bridge?: string;
  strategy: SigninStrategy;
  database: 'PGlite' | 'PostgreSQL';
  mcpConnections: number;
  idle: Timings;
  loaded: Timings;
  /** loaded.p50 / idle.p50 */
  medianRatio: number;
  /** The MCP traffic during the loaded flows. */
  mcp: Pick<LoadResult, 'rps' | 'p50' | 'p99' | 'errors' | 'requests'>;
  /** Statements sent to the database per idle sign-in (database_statements_total), when exported. */
  statementsPerSignin?: number;
}

const isClientRedirect = (u: string) => u.startsWith(CLIENT_REDIRECT);

function expectCode(url: string): void {
  if (!url.startsWith(`${CLIENT_REDIRECT}?`) || !new URL(url).searchParams.get('code')) {
    throw new Error(`client redirect with a code expected, got ${url}`);
  }
}

/** One complete session-introspection sign-in in a fresh browser (not signed in at the legacy app). */
async function introspectionFlow(
  emulatorUrl: string,
  legacy: LegacyApp,
  user: { email: string; password: string },
): Promise<void> {
  const b = new Browser();
  const ask = await b.go(authorizeUrl(emulatorUrl));
  if (!ask.html.includes('action="/auth/login/connect"')) {
    throw new Error(`"asking to connect" page expected, got ${ask.status} at ${ask.url}`);
  }
  const loginPage = await b.submit(ask, '/auth/login/connect', { action: 'continue' });
  if (!loginPage.url.startsWith(legacy.loginUrl)) {
    throw new Error(`legacy login page expected, got ${loginPage.status} at ${loginPage.url}`);
  }
  const end = await b.submit(loginPage, '/login', user, isClientRedirect);
  expectCode(end.url);
}

/** Sum of a counter's samples in the bridge's /metrics (undefined when it is not exported). */
async function counter(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

async function timeFlows(flow: () => Promise<void>, until: () => boolean): Promise<Timings> {
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  while (!until()) {
    const t0 = performance.now();
    try {
      await flow();
      times.push(performance.now() - t0);
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  }
  const sorted = Float64Array.from(times).sort();
  return {
    flows: times.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    errors,
    firstError,
  };
}

export interface SigninLoadOptions {
  strategy: SigninStrategy;
  emulator: Emulator;
  /** The emulator's Login URI port: the bridge listens there. */
  port: number;
  /** PostgreSQL database URL; unset: in-memory PGlite. */
  databaseUrl?: string;
  /** A token of a user the bridge can resolve (the MCP traffic). */
  token: string;
  connections: number;
  /** Idle flows (after two warm-up flows). */
  idleFlows: number;
  /** Seconds of MCP traffic; flows run from its 2nd second until 1 s before its end. */
  loadSeconds: number;
  keep: <I>(c: Child<I>) => Child<I>;
  /** Another checkout's compiled bench (dist-bench/bench): its bridge instead of this tree's. */
  root?: string;
  /** What to call that bridge in the results. */
  label?: string;
}

export async function runSigninUnderLoad(o: SigninLoadOptions): Promise<SigninUnderLoadResult> {
  const tag = randomBytes(4).toString('hex');
  const user = {
    email: `signin-${tag}@example.com`,
    password: 'bench-password-1',
    firstName: 'Bench',
    lastName: 'User',
  };
  const legacy =
    o.strategy === 'session-introspection'
      ? await startLegacyApp({
          users: [{ id: `u-bench-${tag}`, email: user.email, password: user.password, first_name: 'Bench' }],
        })
      : undefined;
  const env: Record<string, string> = {
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    LEGACY_AUTH_STRATEGY: o.strategy,
    ...(legacy && { LEGACY_SESSION_URL: legacy.sessionUrl, LEGACY_LOGIN_URL: legacy.loginUrl }),
  };
  const options: BridgeTargetOptions = {
    env: bridgeEnv(o.port, o.emulator, env),
    databaseUrl: o.databaseUrl,
    liftRateLimits: true,
  };
  const bridge = o.keep(
    await startChild<{ url: string }>(
      `bridge (sign-ins under load, ${o.strategy})`,
      'bridge',
      options as unknown as Record<string, unknown>,
      { root: o.root },
    ),
  );
  const loader = o.keep(await startChild<{ pid: number }>('load generator', 'load', {}));
  try {
    if (!legacy) await bridge.call('createLocalUser', user);
    const flow = legacy
      ? () => introspectionFlow(o.emulator.url, legacy, { email: user.email, password: user.password })
      : () => loginFlow(o.emulator.url, user).then(expectCode);
    for (let i = 0; i < 2; i++) await flow();
    // Statements per sign-in: those of the idle flows, less the instance's own background rate
    // (the revocation poll, …) measured over as long with no sign-in.
    const statements = () => counter(bridge.info.url, 'database_statements_total');
    const s0 = await statements();
    const t0 = performance.now();
    let done = 0;
    const idle = await timeFlows(flow, () => done++ >= o.idleFlows);
    const flowsMs = performance.now() - t0;
    const s1 = await statements();
    await new Promise((r) => setTimeout(r, flowsMs));
    const s2 = await statements();
    const spec = {
      url: `${bridge.info.url}/mcp`,
      method: 'POST' as const,
      headers: mcpHeaders(o.token),
      body: WHOAMI_CALL,
      connections: o.connections,
      duration: o.loadSeconds,
    };
    const started = performance.now();
    const traffic = loader.call<LoadResult>('run', spec);
    await new Promise((r) => setTimeout(r, 2000));
    const loaded = await timeFlows(flow, () => performance.now() - started > (o.loadSeconds - 1) * 1000);
    const mcp = await traffic;
    return {
      ...(o.label && { bridge: o.label }),
      strategy: o.strategy,
      database: o.databaseUrl ? 'PostgreSQL' : 'PGlite',
      mcpConnections: o.connections,
      idle,
      loaded,
      medianRatio: loaded.p50 / idle.p50,
      mcp: { rps: mcp.rps, p50: mcp.p50, p99: mcp.p99, errors: mcp.errors, requests: mcp.requests },
      statementsPerSignin:
        s0 !== undefined && s1 !== undefined && s2 !== undefined && idle.flows > 0
          ? (s1 - s0 - (s2 - s1)) / (idle.flows + idle.errors)
          : undefined,
    };
  } finally {
    await loader.stop();
    await bridge.stop();
    await legacy?.close();
  }
}
