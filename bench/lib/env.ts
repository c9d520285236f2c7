// The benchmark's own settings (environment) and the shared world every scenario uses:
// the AuthKit emulator, the bench user, a valid access token.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Emulator } from '../scenarios/login';

const num = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};
const list = (name: string, fallback: number[]): number[] =>
  process.env[name]?.trim() ? process.env[name]!.split(',').map((s) => Number(s.trim())) : fallback;

export const settings = {
  /** Seconds per load run (the issue asks for at least 10). */
  duration: num('BENCH_DURATION', 10),
  connections: list('BENCH_CONNECTIONS', [1, 10, 100]),
  /** Interleaved rounds per scenario (each BENCH_DURATION long); req/s is the median round's. */
  rounds: Math.round(num('BENCH_ROUNDS', 3)),
  /** Verified calls of the memory run (the issue asks for 1 M). */
  memoryCalls: Math.round(num('BENCH_MEMORY_CALLS', 1_000_000)),
  memoryConnections: Math.round(num('BENCH_MEMORY_CONNECTIONS', 50)),
  /** Concurrent browsers in the login run. */
  loginConcurrency: list('BENCH_LOGIN_CONCURRENCY', [1, 8]),
  /** Admin URL of a PostgreSQL server where the role may CREATE DATABASE; unset: PGlite only. */
  databaseUrl: process.env.BENCH_DATABASE_URL?.trim() || undefined,
  /** Only these sections (comma-separated: http, overhead, verify, login, signin, memory); default all. */
  only: process.env.BENCH_ONLY?.trim() ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined,
  /**
   * Another checkout (e.g. with a proposed patch applied and `tsc -p tsconfig.bench.json` run):
   * its bridge joins the /mcp matrix as "candidate", interleaved with this tree's.
   */
  candidate: process.env.BENCH_CANDIDATE?.trim() || undefined,
  /** What the candidate's rows are called (e.g. `before (9bfe60e)` for a before/after run). */
  candidateLabel: process.env.BENCH_CANDIDATE_LABEL?.trim() || 'candidate',
  /** More environment for the candidate's bridge (JSON), e.g. production log settings. */
  candidateEnv: JSON.parse(process.env.BENCH_CANDIDATE_ENV?.trim() || '{}') as Record<string, string>,
  /** Verification overhead: alternating verified/skipped blocks per connection count, and their length. */
  overheadPairs: Math.round(num('BENCH_OVERHEAD_PAIRS', 12)),
  overheadBlockSeconds: num('BENCH_OVERHEAD_BLOCK_SECONDS', 2),
  /** Sign-ins under load: MCP connections, seconds of traffic, idle flows first. */
  signinConnections: Math.round(num('BENCH_SIGNIN_CONNECTIONS', 100)),
  signinSeconds: num('BENCH_SIGNIN_SECONDS', 20),
  signinIdleFlows: Math.round(num('BENCH_SIGNIN_IDLE_FLOWS', 30)),
  /** Write results to bench/results/ (off: print only). */
  write: process.env.BENCH_WRITE !== '0',
};

export const runs = (section: string): boolean => !settings.only || settings.only.includes(section);

/** Seconds of warm-up before each target's first measured run. */
export const warmupSeconds = (): number => Math.max(1, Math.min(3, Math.round(settings.duration / 3)));

export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}

export const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

export { freePort } from '../../test/helpers/ports';

export const secret = (): string => randomBytes(32).toString('base64url');

/** The `aud` every bridge under test accepts (MCP_AUDIENCE) and every peer checks. */
export const AUDIENCE = 'https://bridge.bench.example/mcp';
export const CLIENT_ID = 'bench_client';
export const CLIENT_REDIRECT = 'http://127.0.0.1:9/callback';
export const BENCH_USER = {
  email: 'bench@example.com',
  password: 'bench-password-1',
  firstName: 'Bench',
  lastName: 'User',
};

/**
 * The environment of a bridge under test (bench/targets/bridge.ts) on `port`, configured against
 * the AuthKit emulator and accepting AUDIENCE; `extra` adds to it or overrides it.
 */
export const bridgeEnv = (
  port: number,
  emulator: Emulator,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  WORKOS_API_KEY: emulator.apiKey,
  WORKOS_CLIENT_ID: emulator.clientId,
  WORKOS_API_URL: emulator.url,
  AUTHKIT_DOMAIN: emulator.issuer,
  MCP_AUDIENCE: AUDIENCE,
  SESSION_SECRET: secret(),
  ...extra,
});

/** The JSON-RPC body every MCP scenario sends. */
export const WHOAMI_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'whoami', arguments: {} },
});

export const mcpHeaders = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
});
