/**
 * The mixed load of the reliability suite and the soak: `mcpClients` MCP clients calling `whoami`
 * as fast as they can (autocannon, one connection each, each its own user's token) while
 * `loginFlows` people go through the whole sign-in (authorize → Login URI → local form with
 * argon2 → completion → client redirect) over and over, each from its own address behind a
 * trusted proxy. The server is the compiled one, in its own process; afterwards, stopped, its
 * database is read to check that every completed sign-in left its transaction and audit row.
 */
import { join } from 'node:path';
import { procCpuMs, procRss } from '../../bench/lib/child';
import { percentile, runLoad, type LoadResult } from '../../bench/lib/load';
import { childEnv, ensureBuilt, REPO_ROOT, spawnCaptured, startBuiltServer } from '../helpers/built-server';
import { usingPostgres } from '../helpers/database';
import { Browser, type Page } from '../login/browser';
import { MCP_HEADERS, toolCall } from '../mcp/helpers';
import { authorize, bridgeEnv, durableDatabase, isClientRedirect, lastExternalAuthId } from './servers';

export interface MixedLoadOptions {
  seconds: number;
  mcpClients?: number;
  loginFlows?: number;
}

export interface MixedLoadReport {
  database: 'pglite' | 'postgres';
  seconds: number;
  mcp: Pick<LoadResult, 'connections' | 'requests' | 'rps' | 'p50' | 'p99' | 'max' | 'errors' | 'detail'>;
  logins: {
    concurrent: number;
    completed: number;
    failures: string[];
    perSecond: number;
    p50: number;
    p99: number;
    max: number;
  };
  /** What the database and AuthKit hold afterwards. */
  records: {
    auditSuccess: number;
    auditFailure: number;
    completedTransactions: number;
    completionsAccepted: number;
    completedTwice: number;
  };
  server: { peakRssMB: number; errorLogLines: number; exit: string };
}

/** A browser behind a trusted reverse proxy: every request carries its own client address. */
class ProxiedBrowser extends Browser {
  constructor(private readonly ip: string) {
    super();
  }

  override request(url: string, init: Parameters<Browser['request']>[1] = {}): Promise<Page> {
    return super.request(url, { ...init, headers: { 'X-Forwarded-For': this.ip, ...init.headers } });
  }
}

export async function runMixedLoad(options: MixedLoadOptions): Promise<MixedLoadReport> {
  const mcpClients = options.mcpClients ?? 100;
  const loginFlows = options.loginFlows ?? 10;
  await ensureBuilt();
  const db = await durableDatabase();
  const { env, url, emulator } = await bridgeEnv({
    ...db.env,
    LOG_LEVEL: 'warn',
    LEGACY_AUTH_STRATEGY: 'local',
    TRUST_PROXY: 'loopback',
    // The MCP clients' tokens are minted for made-up WorkOS users (one each), never signed in here.
    MCP_ALLOW_UNLINKED_USERS: 'true',
  });
  try {
    const add = spawnCaptured(
      process.execPath,
      [
        join(REPO_ROOT, 'dist', 'src', 'cli', 'users-add.js'),
        '--email',
        'load@example.com',
        '--generate-password',
      ],
      { env: childEnv({ NODE_ENV: 'test', ...db.env, DATABASE_AUTO_MIGRATE: 'true' }) },
    );
    if ((await add.exited).code !== 0) throw new Error(`users:add failed:\n${add.text}`);
    const credentials = { email: 'load@example.com', password: /Password: (\S+)/.exec(add.text)![1] };
    const server = await startBuiltServer({ env });

    // One token per MCP client, each for its own user.
    const tokens = await Promise.all(
      Array.from({ length: mcpClients }, (_, i) =>
        emulator.mintAccessToken(
          { aud: `${url}/mcp`, sub: `user_load_${i}` },
          { expiresInSeconds: options.seconds + 600 },
        ),
      ),
    );
    const deadline = Date.now() + options.seconds * 1000;
    const flowTimes: number[] = [];
    const completedExts: string[] = [];
    const failures: string[] = [];
    let flowNumber = 0;
    const loginLoop = async (lane: number) => {
      while (Date.now() < deadline) {
        const n = flowNumber++;
        const b = new ProxiedBrowser(`10.${lane}.${(n >> 8) & 255}.${n & 255}`);
        const started = performance.now();
        try {
          const form = await b.go(authorize(emulator, url).url);
          if (form.status !== 200 || !form.html.includes('action="/auth/login/local"')) {
            failures.push(`Login URI answered ${form.status}`);
            continue;
          }
          const end = await b.submit(form, '/auth/login/local', credentials, isClientRedirect);
          if (!isClientRedirect(end.url)) {
            failures.push(`sign-in answered ${end.status}`);
            continue;
          }
          flowTimes.push(performance.now() - started);
          completedExts.push(lastExternalAuthId(b));
        } catch (err) {
          failures.push(`flow failed: ${(err as Error).message}`);
        }
      }
    };
    const pid = server.child.pid!;
    const [mcp] = await Promise.all([
      runLoad(
        {
          url: `${url}/mcp`,
          method: 'POST',
          headers: MCP_HEADERS,
          body: JSON.stringify(toolCall('whoami')),
          connections: mcpClients,
          duration: options.seconds,
          rotateAuthorization: tokens.map((t) => `Bearer ${t}`),
        },
        { rss: async () => procRss(pid) ?? 0, cpuMs: () => procCpuMs(pid) },
      ),
      ...Array.from({ length: loginFlows }, (_, lane) => loginLoop(lane)),
    ]);
    const exit = await server.stop('SIGTERM');

    // The record, read after a graceful stop (PGlite: the folder is free again).
    const audit = await db.query<{ outcome: string; n: number }>(
      'SELECT outcome::text AS outcome, count(*)::int AS n FROM authorization_audit GROUP BY outcome',
    );
    const [{ n: completedTransactions }] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM login_transactions WHERE status = 'completed'",
    );
    const accepted = emulator.completionCalls().filter((c) => c.status === 200);
    const perExt = new Map<string, number>();
    for (const c of accepted) perExt.set(c.externalAuthId, (perExt.get(c.externalAuthId) ?? 0) + 1);
    const sorted = Float64Array.from(flowTimes).sort();
    return {
      database: usingPostgres() ? 'postgres' : 'pglite',
      seconds: options.seconds,
      mcp: {
        connections: mcp.connections,
        requests: mcp.requests,
        rps: Math.round(mcp.rps),
        p50: round(mcp.p50),
        p99: round(mcp.p99),
        max: round(mcp.max),
        errors: mcp.errors,
        detail: mcp.detail,
      },
      logins: {
        concurrent: loginFlows,
        completed: completedExts.length,
        failures,
        perSecond: round(completedExts.length / options.seconds),
        p50: round(percentile(sorted, 50)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[sorted.length - 1] ?? NaN),
      },
      records: {
        auditSuccess: audit.find((r) => r.outcome === 'success')?.n ?? 0,
        auditFailure: audit.find((r) => r.outcome === 'failure')?.n ?? 0,
        completedTransactions,
        completionsAccepted: accepted.length,
        completedTwice: [...perExt.values()].filter((n) => n > 1).length,
      },
      server: {
        peakRssMB: round(mcp.peakRssMB),
        errorLogLines: server.lines.filter((l) => /"level":(50|60)/.test(l)).length,
        exit: exit.signal ?? String(exit.code),
      },
    };
  } finally {
    await emulator.close();
    await db.dispose();
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

/**
 * What every mixed-load run must show (the short one in load.e2e.ts and the soak): no error
 * anywhere, and every completed sign-in recorded exactly once (transaction, audit row, completion).
 */
export function expectNothingLost(r: MixedLoadReport): void {
  expect(r.mcp.errors).toBe(0);
  expect(r.logins.failures).toEqual([]);
  expect(r.records).toEqual({
    auditSuccess: r.logins.completed,
    auditFailure: 0,
    completedTransactions: r.logins.completed,
    completionsAccepted: r.logins.completed,
    completedTwice: 0,
  });
  expect(r.server.errorLogLines).toBe(0);
}

/** One line for a log or a table: the numbers that matter. */
export function summarize(r: MixedLoadReport): string {
  return (
    `${r.seconds} s on ${r.database}: MCP ${r.mcp.connections} clients ${r.mcp.requests} calls (${r.mcp.rps}/s) ` +
    `p50 ${r.mcp.p50} ms p99 ${r.mcp.p99} ms errors ${r.mcp.errors}; logins ${r.logins.concurrent} concurrent ` +
    `${r.logins.completed} completed (${r.logins.perSecond}/s) p99 ${r.logins.p99} ms failures ${r.logins.failures.length}; ` +
    `audit rows ${r.records.auditSuccess}/${r.logins.completed}, completed twice ${r.records.completedTwice}, ` +
    `server peak RSS ${r.server.peakRssMB} MB, error log lines ${r.server.errorLogLines}`
  );
}
