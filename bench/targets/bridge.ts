// A connect-bridge instance under test, in its own process: createApp(config) + listen, exactly as
// src/main.ts does, configured against the AuthKit emulator (non-demo, local strategy).
import 'reflect-metadata';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { createApp, listen } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config/app-config';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { McpAuthService } from '../../src/mcp/auth/mcp-auth.service';
import { failStart, serveRpc } from '../lib/child';

export interface BridgeTargetOptions {
  /** Environment the bridge is configured with (PORT, PUBLIC_URL, WORKOS_*, AUTHKIT_DOMAIN, …). */
  env: Record<string, string>;
  /** Unset: in-memory PGlite. */
  databaseUrl?: string;
  /**
   * "Verification skipped", in the same process as the verified calls: a request whose
   * Authorization is `Bearer <marker>` gets the caller of `token` (authenticated once) with no
   * hash, cache lookup or signature check; every other request is verified as usual. One
   * process and one heap for both, so the two differ only in verification.
   */
  skipVerification?: { token: string; marker: string };
  /** Lift the per-IP sign-in limit (every benchmark browser comes from 127.0.0.1). */
  liftRateLimits?: boolean;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_TARGET ?? '{}') as BridgeTargetOptions;
  const env = { NODE_ENV: 'development', LOG_LEVEL: 'warn', ...options.env };
  if (options.databaseUrl)
    Object.assign(env, { DATABASE_URL: options.databaseUrl, DATABASE_AUTO_MIGRATE: 'true' });
  let config: AppConfig = loadConfig(env);
  if (!options.databaseUrl)
    config = { ...config, database: { kind: 'pglite', dataDir: 'memory://', autoMigrate: true } };
  const app = await createApp(config);
  await listen(app, config);
  if (options.liftRateLimits) {
    // Every per-IP limit (sign-in attempts, Login URI visits, …); per-account limits stay.
    const limiter = app.get(RateLimiterService);
    const limits: Record<string, unknown> = { ...limiter.limits };
    for (const key of Object.keys(limits)) {
      if (/ip/i.test(key)) limits[key] = { limit: 1_000_000_000, windowSeconds: 900 };
    }
    limiter.limits = limits as unknown as typeof limiter.limits;
  }
  if (options.skipVerification) {
    const auth = app.get(McpAuthService);
    const caller = await auth.authenticate(`Bearer ${options.skipVerification.token}`);
    const skip = `Bearer ${options.skipVerification.marker}`;
    const verify = auth.authenticate.bind(auth);
    auth.authenticate = (authorization) =>
      authorization === skip ? Promise.resolve(caller) : verify(authorization);
  }
  // One inspector session at a time, for a CPU or a heap profile of a window of load.
  let profiler: Session | undefined;
  const openProfiler = async (...steps: Array<[string, object?]>): Promise<void> => {
    if (profiler) throw new Error('a profile is already being taken');
    profiler = new Session();
    profiler.connect();
    for (const [method, params] of steps) await profiler.post(method, params);
  };
  const closeProfiler = async (stop: string): Promise<unknown> => {
    if (!profiler) throw new Error('no profile is being taken');
    const { profile } = (await profiler.post(stop)) as unknown as { profile: unknown };
    profiler.disconnect();
    profiler = undefined;
    return profile;
  };
  serveRpc(
    {
      createLocalUser: (u: { email: string; password: string; firstName: string; lastName: string }) =>
        app
          .get(LocalUsersService)
          .create(u)
          .then((r) => ({ id: r.id })),
      mem: () => process.memoryUsage(),
      /** V8's heap spaces: committed and used MB of each. */
      heapSpaces: () =>
        Object.fromEntries(
          getHeapSpaceStatistics().map((sp) => [
            sp.space_name,
            `${Math.round(sp.space_used_size / 2 ** 20)}/${Math.round(sp.physical_space_size / 2 ** 20)}`,
          ]),
        ),
      // CPU profile of a window (what --cpu-prof cannot do: it covers start-up too).
      profileStart: () =>
        openProfiler(
          ['Profiler.enable'],
          ['Profiler.setSamplingInterval', { interval: 100 }],
          ['Profiler.start'],
        ),
      profileStop: () => closeProfiler('Profiler.stop'),
      // Sampling heap profile of a window: where the bytes a call allocates come from.
      allocationStart: () =>
        openProfiler(
          ['HeapProfiler.enable'],
          [
            'HeapProfiler.startSampling',
            {
              samplingInterval: 4096,
              includeObjectsCollectedByMajorGC: true,
              includeObjectsCollectedByMinorGC: true,
            },
          ],
        ),
      allocationStop: () => closeProfiler('HeapProfiler.stopSampling'),
      gc: () => {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (!gc) throw new Error('start with --expose-gc');
        gc();
        gc();
        return process.memoryUsage();
      },
      shutdown: async () => {
        setTimeout(() => process.exit(0), 3000).unref();
        await app.close();
        setImmediate(() => process.exit(0));
      },
    },
    { url: `http://127.0.0.1:${config.port}`, pid: process.pid },
  );
}

main().catch(failStart);
