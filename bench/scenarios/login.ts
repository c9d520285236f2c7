// Login flow against the emulator with the `local` strategy: authorize at the emulator → Login
// URI → the bridge's sign-in form → argon2 check → completeOAuth2 → the client's redirect_uri
// with a code. Driven with the login engineer's cookie-jar browser (test/login/browser.ts).
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Browser } from '../../test/login/browser';
import { startChild, type Child } from '../lib/child';
import { BENCH_USER, CLIENT_ID, CLIENT_REDIRECT, bridgeEnv } from '../lib/env';
import { percentile } from '../lib/load';
import type { BridgeTargetOptions } from '../targets/bridge';

export interface LoginResult {
  database: 'PGlite' | 'PostgreSQL';
  concurrency: number;
  flows: number;
  seconds: number;
  flowsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  firstError?: string;
}

export interface Emulator {
  url: string;
  issuer: string;
  apiKey: string;
  clientId: string;
}

export function authorizeUrl(emulatorUrl: string): string {
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: CLIENT_REDIRECT,
    response_type: 'code',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    scope: 'openid profile email',
  });
  return `${emulatorUrl}/oauth2/authorize?${q}`;
}

export type BenchUser = typeof BENCH_USER;

/** One complete flow in a fresh browser; resolves with the client redirect URL, or rejects. */
export async function loginFlow(emulatorUrl: string, user: BenchUser = BENCH_USER): Promise<string> {
  const b = new Browser();
  const form = await b.go(authorizeUrl(emulatorUrl));
  if (form.status !== 200 || !form.html.includes('action="/auth/login/local"')) {
    throw new Error(`sign-in form expected, got ${form.status} at ${form.url}`);
  }
  const end = await b.submit(form, '/auth/login/local', { email: user.email, password: user.password }, (u) =>
    u.startsWith(CLIENT_REDIRECT),
  );
  if (!end.url.startsWith(`${CLIENT_REDIRECT}?`) || !new URL(end.url).searchParams.get('code')) {
    throw new Error(`client redirect with a code expected, got ${end.status} at ${end.url}`);
  }
  return end.url;
}

/** A bridge for the login runs, on `port` (the emulator's Login URI points there). */
export async function startLoginBridge(
  name: string,
  port: number,
  emulator: Emulator,
  databaseUrl?: string,
  user: BenchUser = BENCH_USER,
): Promise<Child<{ url: string; localUserId: string }>> {
  const options: BridgeTargetOptions = {
    env: bridgeEnv(port, emulator, { LEGACY_AUTH_STRATEGY: 'local' }),
    databaseUrl,
    liftRateLimits: true,
  };
  const bridge = await startChild<{ url: string; localUserId: string }>(
    name,
    'bridge',
    options as unknown as Record<string, unknown>,
  );
  const created = await bridge.call<{ id: string }>('createLocalUser', user);
  bridge.info.localUserId = created.id;
  return bridge;
}

/** Runs `concurrency` browsers back to back for `seconds`. */
export async function runLoginLoad(
  database: LoginResult['database'],
  emulatorUrl: string,
  concurrency: number,
  seconds: number,
  user: BenchUser = BENCH_USER,
): Promise<LoginResult> {
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await loginFlow(emulatorUrl, user);
          times.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(times).sort();
  return {
    database,
    concurrency,
    flows: times.length,
    seconds: elapsed,
    flowsPerSecond: times.length / elapsed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    errors,
    firstError,
  };
}

/** A throwaway database on the BENCH_DATABASE_URL server; dropped by the returned function. */
export async function createBenchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cb_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
