// `npm run bench`: the connect-bridge benchmark suite. See docs/performance.md.
//
//   BENCH_DURATION=10          seconds per load run (use 2 for a smoke run)
//   BENCH_CONNECTIONS=1,10,100 connection counts of the /mcp matrix
//   BENCH_ROUNDS=3             interleaved rounds per scenario (req/s: the median round)
//   BENCH_MEMORY_CALLS=1000000 verified calls of the memory run
//   BENCH_LOGIN_CONCURRENCY=1,8
//   BENCH_DATABASE_URL=postgresql://cb:cb@127.0.0.1:5432/postgres   also run the login flow on PostgreSQL
//   BENCH_OVERHEAD_PAIRS=12 BENCH_OVERHEAD_BLOCK_SECONDS=2   paired verified/skipped blocks (overhead)
//   BENCH_SIGNIN_CONNECTIONS=100 BENCH_SIGNIN_SECONDS=20 BENCH_SIGNIN_IDLE_FLOWS=30   sign-ins under MCP load
//   BENCH_ONLY=http,overhead,verify,login,signin,memory   BENCH_WRITE=0
//   BENCH_CANDIDATE=/path/to/other/checkout   its bridge joins the /mcp matrix (after its own tsc -p tsconfig.bench.json)
//   BENCH_CANDIDATE_LABEL=candidate            what its rows are called (e.g. "before (9bfe60e)")
//   BENCH_CANDIDATE_ENV='{"LOG_LEVEL":"info","LOG_FORMAT":"json"}'   more environment for its bridge
// CPU profile of the bridge under load: node dist-bench/bench/profile.js (see bench/profile.ts).
import {
  AUDIENCE,
  BENCH_USER,
  WHOAMI_CALL,
  bridgeEnv,
  freePort,
  load,
  machine,
  mcpHeaders,
  runs,
  secret,
  settings,
  warmupSeconds,
} from './lib/env';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild, type Child } from './lib/child';
import { startWorld } from './lib/world';
import { startLegacyUserUrl } from './lib/legacy-user-url';
import { McpAuthService } from '../src/mcp/auth/mcp-auth.service';
import { runHttpMatrix, type HttpTarget } from './scenarios/http';
import { createBenchDatabase, runLoginLoad, startLoginBridge, type LoginResult } from './scenarios/login';
import { runMemory, type MemoryResult } from './scenarios/memory';
import { runSigninUnderLoad, type Timings } from './scenarios/signin-load';
import { runOverhead } from './scenarios/overhead';
import { runVerify, type VerifyResult } from './scenarios/verify';
import {
  PRODUCTION_IMAGE,
  PRODUCTION_LOGS,
  candidateScenario,
  checkTargets,
  memoryRuns,
  writeResults,
  type BenchResults,
} from './lib/report';
import type { BridgeTargetOptions } from './targets/bridge';
import type { PeerTargetOptions } from './targets/peer';

const log = (line: string) => console.log(line);

/** The Node flags the container image sets (Dockerfile, `ENV NODE_OPTIONS=...`). */
function containerNodeFlags(): string[] {
  const dockerfile = readFileSync(join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
  const match = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile);
  if (!match) throw new Error('the Dockerfile sets no NODE_OPTIONS');
  return match[1].split(/\s+/).filter(Boolean);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = load();
  log(`connect-bridge bench: ${JSON.stringify(machine())}, load ${loadBefore.join(' ')}`);
  log(
    `settings: ${JSON.stringify({ ...settings, databaseUrl: settings.databaseUrl ? '(set)' : undefined })}`,
  );
  const children: Array<Child<unknown>> = [];
  const keep = <I>(c: Child<I>): Child<I> => {
    children.push(c as Child<unknown>);
    return c;
  };
  try {
    const world = await startWorld(keep);
    const { emulatorChild, emulator, loginPort, workosUser, token } = world;
    let loginBridge: Child<{ url: string; localUserId: string }> | undefined = world.loginBridge;
    const expectWhoami = (status: number, body: string) => {
      if (status !== 200) throw new Error(`whoami: HTTP ${status}: ${body}`);
      const text = (JSON.parse(body) as { result?: { content?: Array<{ text?: string }> } }).result
        ?.content?.[0]?.text;
      const who = JSON.parse(text ?? '{}') as { sub?: string };
      if (who.sub !== workosUser.id) throw new Error(`whoami: unexpected answer ${body}`);
    };
    /** The body of one verified whoami on `url` (checked): what every call under load must answer. */
    const whoamiBody = async (url: string): Promise<string> => {
      const res = await fetch(url, { method: 'POST', headers: mcpHeaders(token), body: WHOAMI_CALL });
      const body = await res.text();
      expectWhoami(res.status, body);
      return body;
    };
    // Verification skipped (http and overhead): the same bridge process, for requests carrying
    // this marker token (bench/targets/bridge.ts, skipVerification).
    const marker = `skip-verification.${'x'.repeat(Math.max(0, token.length - 18))}`;

    // The BENCH_CANDIDATE checkout's compiled bench: its bridge runs beside this tree's.
    const candidateRoot = settings.candidate ? join(settings.candidate, 'dist-bench', 'bench') : undefined;
    const startBridge = async (
      name: string,
      options: Omit<BridgeTargetOptions, 'env'> & { env?: Record<string, string> },
      execArgv: string[] = [],
      root?: string,
    ) => {
      const port = await freePort();
      const opts: BridgeTargetOptions = {
        ...options,
        env: bridgeEnv(port, emulator, { LEGACY_AUTH_STRATEGY: 'local', ...options.env }),
      };
      return keep(
        await startChild<{ url: string }>(name, 'bridge', opts as unknown as Record<string, unknown>, {
          execArgv,
          root,
        }),
      );
    };
    const startPeer = async (name: string, kind: PeerTargetOptions['kind']) => {
      const opts: PeerTargetOptions = { kind, issuer: emulator.issuer, audience: AUDIENCE };
      return keep(
        await startChild<{ url: string }>(name, 'peer', opts as unknown as Record<string, unknown>),
      );
    };

    const results: BenchResults = {
      startedAt: startedAt.toISOString(),
      machine: machine(),
      settings: { ...settings, databaseUrl: settings.databaseUrl ? '(set)' : undefined },
      load: { before: loadBefore, after: [] },
      http: [],
      login: [],
    };

    if (runs('http')) {
      log('\n/mcp tools/call whoami and baselines');
      const bridge = await startBridge('bridge', { skipVerification: { token, marker } });
      // Production log settings: an access line per call, JSON to stdout (the bench bridges run
      // NODE_ENV=development, whose default format at info is pretty lines).
      const infoLog = await startBridge('bridge, production log settings', {
        env: { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      });
      // The same, with the container image's Node flags (a smaller heap: what they cost per call).
      const imageFlags = await startBridge(
        'bridge, production log settings, container image flags',
        { env: { LOG_LEVEL: 'info', LOG_FORMAT: 'json' } },
        containerNodeFlags(),
      );
      // Rechecks on: the same bridge with LEGACY_USER_URL, the shortest interval (10 s).
      const userUrl = await startLegacyUserUrl(secret());
      const rechecking = await startBridge('bridge, rechecks on', {
        env: {
          LEGACY_USER_URL: userUrl.url,
          LEGACY_USER_TOKEN: userUrl.token,
          LEGACY_USER_RECHECK_SECONDS: '10',
        },
      });
      const bare = await startPeer('bare node:http + jose', 'bare');
      const floor = await startPeer('bare node:http + jose, verified tokens remembered', 'floor');
      const sdk = await startPeer('v1 SDK peer', 'sdk');
      const candidate = candidateRoot
        ? await startBridge(
            `${settings.candidateLabel} bridge`,
            { env: settings.candidateEnv },
            [],
            candidateRoot,
          )
        : undefined;
      const mcp = (
        scenario: string,
        server: Child<{ url: string }>,
        extra: Partial<HttpTarget> = {},
      ): HttpTarget => ({
        scenario,
        server,
        url: `${server.info.url}/mcp`,
        method: 'POST',
        headers: mcpHeaders(token),
        body: WHOAMI_CALL,
        check: expectWhoami,
        ...extra,
      });
      // A rotation of more distinct tokens than the bridge's verified-token cache holds: every
      // request misses the cache and pays a full verification (the worst case of the hot path).
      const rotationSize = McpAuthService.MAX_CACHED_TOKENS + 1000;
      log(`  minting ${rotationSize} tokens for the cache-miss scenario …`);
      const rotation = (
        await emulatorChild.call<string[]>('mintMany', {
          count: rotationSize,
          claims: world.claims,
          opts: { expiresInSeconds: 6 * 3600 },
        })
      ).map((t) => `Bearer ${t}`);
      const top = [Math.max(...settings.connections)];
      const targets: HttpTarget[] = [
        mcp('bridge /mcp (verified)', bridge),
        ...(candidate ? [mcp(candidateScenario(settings.candidateLabel), candidate)] : []),
        mcp('bridge /mcp (verification skipped)', bridge, { headers: mcpHeaders(marker) }),
        {
          scenario: 'bridge /healthz',
          server: bridge,
          url: `${bridge.info.url}/healthz`,
          method: 'GET',
          check: (s, b) => {
            if (s !== 200 || !b.includes('ok')) throw new Error(`healthz: ${s} ${b}`);
          },
        },
        mcp('bare node:http + jose, verified tokens remembered (true floor)', floor),
        mcp('bare node:http + jose (every call verified)', bare),
        mcp('v1 SDK peer (requireBearerAuth)', sdk),
        mcp(PRODUCTION_LOGS, infoLog),
        mcp(PRODUCTION_IMAGE, imageFlags),
        mcp('bridge /mcp, rechecks on (LEGACY_USER_URL, every 10 s)', rechecking),
        mcp('bridge /mcp, every token new (cache miss)', bridge, {
          rotateAuthorization: rotation,
          connections: top,
        }),
      ];
      results.http = await runHttpMatrix(
        targets,
        settings.connections,
        settings.duration,
        settings.rounds,
        warmupSeconds(),
        log,
      );
      for (const c of [bridge, infoLog, imageFlags, rechecking, floor, bare, sdk, candidate]) await c?.stop();
      log(`  the legacy user URL was asked ${userUrl.asked()} times during the run (rechecks on)`);
      await userUrl.close();
    }

    if (runs('overhead')) {
      log('\nverification overhead: one bridge, verified and skipped blocks in turn');
      const bridge = await startBridge('bridge (overhead)', { skipVerification: { token, marker } });
      const url = `${bridge.info.url}/mcp`;
      const expectBody = await whoamiBody(url);
      results.overhead = await runOverhead(
        { server: bridge, url, body: WHOAMI_CALL, headers: mcpHeaders, token, marker, expectBody },
        settings.connections,
        settings.overheadPairs,
        settings.overheadBlockSeconds,
        log,
      );
      await bridge.stop();
    }

    if (runs('login')) {
      log('\nlogin flow (local strategy) against the emulator');
      const dbs: Array<{ name: LoginResult['database']; url?: string; drop?: () => Promise<void> }> = [
        { name: 'PGlite' },
      ];
      if (settings.databaseUrl) {
        const db = await createBenchDatabase(settings.databaseUrl);
        dbs.push({ name: 'PostgreSQL', url: db.url, drop: db.drop });
      }
      for (const db of dbs) {
        // One AuthKit user per database: the emulator (like AuthKit) refuses an email already
        // linked to another legacy id, and each database has its own local user ids.
        const user = db.url ? { ...BENCH_USER, email: 'bench-pg@example.com' } : BENCH_USER;
        if (db.url) {
          await loginBridge?.stop();
          loginBridge = keep(
            await startLoginBridge('bridge (login, PostgreSQL)', loginPort, emulator, db.url, user),
          );
        }
        await runLoginLoad(db.name, emulator.url, 2, warmupSeconds(), user);
        for (const c of settings.loginConcurrency) {
          const r = await runLoginLoad(db.name, emulator.url, c, settings.duration, user);
          results.login.push(r);
          log(
            `  ${db.name.padEnd(10)} concurrency ${String(c).padStart(2)}: ${r.flowsPerSecond.toFixed(1)} flows/s, ` +
              `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`,
          );
        }
      }
      await loginBridge?.stop();
      loginBridge = undefined;
      for (const db of dbs) await db.drop?.();
    }

    if (runs('verify')) {
      log('\ntoken verification (in process)');
      const v: VerifyResult = await runVerify(
        emulator,
        emulatorChild,
        token,
        Math.min(settings.duration, 5),
        settings.duration >= 10 ? 20 : 5,
      );
      results.verify = v;
      log(
        `  cache hit ${v.cacheHit.opsPerSecond.toFixed(0)}/s · verify (key cached) ${v.verifyCachedKey.opsPerSecond.toFixed(0)}/s ` +
          `· jose ${v.joseReference.opsPerSecond.toFixed(0)}/s · unknown kid (cooldown) ${v.unknownKidInCooldown.opsPerSecond.toFixed(0)}/s`,
      );
      log(
        `  key refetch p50 ${v.keyRefetch.p50Ms.toFixed(2)} ms max ${v.keyRefetch.maxMs.toFixed(2)} ms · cold start p50 ${v.coldStart.p50Ms.toFixed(2)} ms`,
      );
    }

    if (runs('signin')) {
      log(
        `\nsign-ins while the instance answers /mcp at ${settings.signinConnections} connections (one flow at a time)`,
      );
      await loginBridge?.stop();
      loginBridge = undefined;
      const db = settings.databaseUrl ? await createBenchDatabase(settings.databaseUrl) : undefined;
      try {
        const bridges = [
          { label: undefined as string | undefined, root: undefined as string | undefined },
          ...(candidateRoot ? [{ label: settings.candidateLabel, root: candidateRoot }] : []),
        ];
        for (const strategy of ['local', 'session-introspection'] as const)
          for (const { label, root } of bridges) {
            const r = await runSigninUnderLoad({
              label,
              root,
              strategy,
              emulator,
              port: loginPort,
              databaseUrl: db?.url,
              token,
              connections: settings.signinConnections,
              idleFlows: settings.signinIdleFlows,
              loadSeconds: settings.signinSeconds,
              keep,
            });
            results.signin = [...(results.signin ?? []), r];
            const t = (x: Timings) =>
              `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms (${x.flows} flows, ${x.errors} errors${x.firstError ? `: ${x.firstError}` : ''})`;
            const name = `${label ? `${label}: ` : ''}${strategy} (${r.database})`;
            log(`  ${name}: idle ${t(r.idle)}`);
            log(
              `  ${name}: under load ${t(r.loaded)}; median ${r.medianRatio.toFixed(1)}× idle; ` +
                `MCP ${r.mcp.rps.toFixed(0)} req/s meanwhile; ${r.statementsPerSignin?.toFixed(1) ?? '–'} statements per sign-in`,
            );
          }
      } finally {
        await db?.drop();
      }
    }

    if (runs('memory')) {
      // On PostgreSQL when BENCH_DATABASE_URL is set (the production database), with the Node flags
      // of the container image, then with Node's defaults: what the flags buy, in one run.
      const db = settings.databaseUrl ? await createBenchDatabase(settings.databaseUrl) : undefined;
      try {
        const imageFlags = containerNodeFlags();
        const withImageFlags = `container image flags (${imageFlags.join(' ')})`;
        const memoryBridges: Array<{ label: string; flags: readonly string[]; root?: string }> = [
          { label: withImageFlags, flags: imageFlags },
          { label: "Node's defaults", flags: [] },
          // The candidate with the same flags: what this tree's changes did to the flags' cost.
          ...(candidateRoot
            ? [
                {
                  label: `${settings.candidateLabel}: ${withImageFlags}`,
                  flags: imageFlags,
                  root: candidateRoot,
                },
              ]
            : []),
        ];
        for (const { label, flags, root } of memoryBridges) {
          log(
            `\nmemory: ${settings.memoryCalls} verified calls at ${settings.memoryConnections} connections, ${label}, ${db ? 'PostgreSQL' : 'PGlite'}`,
          );
          const port = await freePort();
          const bridge = keep(
            await startChild<{ url: string }>(
              `bridge (memory, ${label})`,
              'bridge',
              {
                env: bridgeEnv(port, emulator, {
                  LEGACY_AUTH_STRATEGY: 'local',
                  LOG_LEVEL: 'info',
                  LOG_FORMAT: 'json',
                }),
                databaseUrl: db?.url,
              } satisfies BridgeTargetOptions as unknown as Record<string, unknown>,
              { execArgv: ['--expose-gc', ...flags], root },
            ),
          );
          await new Promise((r) => setTimeout(r, 2000));
          const url = `${bridge.info.url}/mcp`;
          const expectBody = await whoamiBody(url);
          const m: MemoryResult = {
            label,
            database: db ? 'PostgreSQL' : 'PGlite',
            nodeFlags: [...flags],
            ...(await runMemory(
              bridge,
              { url, headers: mcpHeaders(token), body: WHOAMI_CALL, expectBody },
              settings.memoryCalls,
              log,
              settings.memoryConnections,
            )),
          };
          results.memory = [...memoryRuns(results), m];
          log(
            `  idle ${m.idleRssMB?.toFixed(1)} MB, peak ${m.peakRssMB.toFixed(1)} MB, rss growth ${m.rssGrowthMB.toFixed(1)} MB, heap growth ${m.heapGrowthMB.toFixed(1)} MB, ${m.rps.toFixed(0)} req/s, errors ${m.errors}`,
          );
          await bridge.stop();
        }
      } finally {
        await db?.drop();
      }
    }

    results.load.after = load();
    results.finishedAt = new Date().toISOString();
    results.targets = checkTargets(results);
    const text = await writeResults(results, settings.write);
    log(`\n${text}`);
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
