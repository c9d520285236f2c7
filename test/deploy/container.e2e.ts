/**
 * The production image (Dockerfile) as operators run it: built with BuildKit on
 * CONTAINER_BASE_IMAGE (node:24-slim, or the stand-in scripts/container-base.sh builds where no
 * registry is reachable), checked (non-root, HEALTHCHECK, no dev dependencies, no CA in a layer),
 * migrations applied by a one-shot container, a local user added with the CLI in the image, then
 * the server container (--network host) serves a whole v2 MCP SDK sign-in against the AuthKit
 * emulator running in this process, reports healthy to Docker, and stops cleanly on `docker stop`.
 *
 * Runs on PostgreSQL only, with Docker running and CONTAINER_BASE_IMAGE set (.ci/run does both in
 * its PostgreSQL pass); otherwise skipped with the reason. Every container it starts and the
 * connect-bridge:test tag are removed afterwards; the base image and the build cache stay.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningEmulator } from '../../emulator';
import { BrowserOAuthProvider, connectClient, whoami, type McpClient } from '../e2e/mcp-flow';
import { REPO_ROOT, spawnCaptured, waitUntilReady, type SpawnedProcess } from '../helpers/built-server';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { describeUnless, NEEDS_POSTGRES } from '../helpers/skip';
import { bridgeEnv } from '../reliability/servers';

const IMAGE = 'connect-bridge:test';
const BASE_IMAGE = process.env.CONTAINER_BASE_IMAGE;
const BUILD_TIMEOUT_MS = 15 * 60_000;
/** The docker CLI the suite uses (findDocker's choice). */
let DOCKER = 'docker';

/** A docker CLI that answers, talks to a running daemon and can build with BuildKit; or why not. */
function findDocker(): { cli: string } | { reason: string } {
  const candidates = [
    ...new Set([process.env.DOCKER, 'docker', '/usr/bin/docker'].filter(Boolean)),
  ] as string[];
  let found: string | undefined;
  for (const cli of candidates) {
    const version = spawnSync(cli, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (version.status !== 0) continue;
    found ??= cli;
    // Docker 23+ builds with BuildKit only through the buildx plugin; 18.09 … 22 have it built in.
    const major = Number(/version (\d+)\./.exec(version.stdout)?.[1] ?? 0);
    const buildx = major >= 23 && spawnSync(cli, ['buildx', 'version'], { timeout: 10_000 }).status === 0;
    if (major < 23 || buildx) {
      const server = spawnSync(cli, ['version', '--format', '{{.Server.Version}}'], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      if (server.status !== 0)
        return {
          reason: `the docker daemon does not answer (${(server.stderr || server.stdout || String(server.error)).trim().split('\n')[0]}): start dockerd`,
        };
      return { cli };
    }
  }
  return found
    ? {
        reason: `${found} builds with BuildKit only through the buildx plugin, which is missing: install it, or set DOCKER to a Docker 20.10 CLI (apt-get install docker.io gives /usr/bin/docker)`,
      }
    : { reason: 'docker is not installed (apt-get install docker.io, then start dockerd)' };
}

function skipReason(): string | undefined {
  if (NEEDS_POSTGRES) return NEEDS_POSTGRES;
  if (!BASE_IMAGE)
    return 'CONTAINER_BASE_IMAGE is unset: set it to an image with Node 24 and npm, e.g. CONTAINER_BASE_IMAGE=node:24-slim, or build the stand-in with scripts/container-base.sh and use connect-bridge-base:node24';
  const docker = findDocker();
  if ('reason' in docker) return docker.reason;
  if (spawnSync(docker.cli, ['image', 'inspect', BASE_IMAGE], { timeout: 15_000 }).status !== 0)
    return `the base image ${BASE_IMAGE} is not present (scripts/container-base.sh builds connect-bridge-base:node24; docker pull node:24-slim where a registry is reachable)`;
  DOCKER = docker.cli;
  return undefined;
}

const REASON = skipReason();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI to completion (stdin from `input`); `env` is the CLI's environment (for `-e NAME`). */
function docker(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(DOCKER, args, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err) });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like docker(), but fails the test with the command's output unless it exits 0. */
async function dockerOk(args: string[], options: Parameters<typeof docker>[1] = {}): Promise<string> {
  const r = await docker(args, options);
  if (r.code !== 0)
    throw new Error(`docker ${args.join(' ')} exited ${r.code}:\n${(r.stdout + r.stderr).slice(-4000)}`);
  return r.stdout;
}

/** `-e NAME` for each variable (values travel in the CLI's environment, not on its command line). */
const envFlags = (env: Record<string, string>) => Object.keys(env).flatMap((k) => ['-e', k]);
const cliEnv = (env: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, ...env });

/** The machine's CA bundle, handed to the build as the `ca` secret (npm needs it behind a TLS-inspecting proxy). */
function caBundle(): string | undefined {
  return [
    process.env.NODE_EXTRA_CA_CERTS,
    process.env.SSL_CERT_FILE,
    '/etc/ssl/certs/ca-certificates.crt',
  ].find((p): p is string => Boolean(p) && existsSync(p!) && statSync(p!).isFile());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeUnless(REASON, __filename)('the production image (Dockerfile)', () => {
  const prefix = `cb-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const containers: string[] = [];
  const nameFor = (role: string) => {
    const name = `${prefix}-${role}`;
    containers.push(name);
    return name;
  };
  let db: TestDatabase;
  let databaseUrl: string;
  let emulator: RunningEmulator | undefined;
  let env: Record<string, string>;
  let url: string;
  let server: SpawnedProcess | undefined;
  let serverName: string;
  let client: McpClient | undefined;
  const carol = { email: 'carol@example.com', password: 'carol-password-1' };
  let carolId: string;

  beforeAll(async () => {
    const ca = caBundle();
    const args = [
      'build',
      '--progress=plain',
      '--build-arg',
      `BASE_IMAGE=${BASE_IMAGE}`,
      ...(ca ? ['--secret', `id=ca,src=${ca}`] : []),
      '-t',
      IMAGE,
      '.',
    ];
    const started = Date.now();
    const build = spawnCaptured(DOCKER, args, { env: { ...process.env, DOCKER_BUILDKIT: '1' } });
    const timer = setTimeout(() => void build.stop('SIGKILL'), BUILD_TIMEOUT_MS);
    const { code } = await build.exited;
    clearTimeout(timer);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(
      join(REPO_ROOT, 'test-artifacts', 'container-build.log'),
      `$ DOCKER_BUILDKIT=1 ${DOCKER} ${args.join(' ')}\n${build.text}\nexit ${code} after ${seconds} s\n`,
    );
    if (code !== 0)
      throw new Error(`docker build failed (exit ${code}):\n${build.lines.slice(-60).join('\n')}`);
    const size = Number((await dockerOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).trim());
    process.stderr.write(
      `container.e2e: built ${IMAGE} on ${BASE_IMAGE} in ${seconds} s, ${(size / 1e6).toFixed(0)} MB (log: test-artifacts/container-build.log)\n`,
    );

    db = await createTestDatabase({ autoMigrate: false });
    if (db.database.kind !== 'postgres') throw new Error('expected PostgreSQL');
    databaseUrl = db.database.url;
    ({ env, url, emulator } = await bridgeEnv({
      // Production refuses the emulator's http:// URLs: the server runs in test mode, as
      // test/reliability/process.e2e.ts runs the compiled server.
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      LEGACY_AUTH_STRATEGY: 'local',
    }));
  }, BUILD_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    if (containers.length) await docker(['rm', '--force', ...containers]);
    await server?.stop('SIGKILL');
    await docker(['image', 'rm', IMAGE]); // the tag only: the base image and the build cache stay
    await emulator?.close();
    await db?.dispose();
  }, 120_000);

  it('runs as a non-root user, with a HEALTHCHECK on /healthz, port 3000, NODE_ENV=production, no dev dependencies, no CA in a layer', async () => {
    const config = JSON.parse(
      await dockerOk(['image', 'inspect', '--format', '{{json .Config}}', IMAGE]),
    ) as {
      User: string;
      Env: string[];
      Cmd: string[];
      ExposedPorts: Record<string, unknown>;
      Healthcheck?: { Test: string[] };
    };
    expect(config.User).not.toMatch(/^(|root|0)(:.*)?$/);
    expect(config.Healthcheck?.Test.join(' ')).toContain('/healthz');
    expect(Object.keys(config.ExposedPorts)).toEqual(['3000/tcp']);
    expect(config.Env).toContain('NODE_ENV=production');
    // V8's heap sized for a 256 MiB container (docs/operations.md, "Memory").
    expect(config.Env).toContain('NODE_OPTIONS=--max-semi-space-size=8 --max-old-space-size=128');
    expect(config.Cmd).toEqual(['node', 'dist/src/main.js']);

    const probe = await dockerOk([
      'run',
      '--rm',
      '--name',
      nameFor('probe'),
      IMAGE,
      'node',
      '-e',
      `const has = (m) => { try { require.resolve(m); return true } catch { return false } };
       const fs = require('node:fs');
       console.log(JSON.stringify({
         uid: process.getuid(), node: process.versions.node,
         typescript: has('typescript'), prismaCli: has('prisma'), jest: has('jest'),
         prismaClient: has('@prisma/client'), schemaEngine: has('@prisma/schema-engine-wasm'),
         migrations: fs.readdirSync('prisma/migrations').filter((d) => !d.endsWith('.toml')).length,
         secret: fs.existsSync('/run/secrets/ca'),
         heapLimitMB: Math.round(require('node:v8').getHeapStatistics().heap_size_limit / 2 ** 20),
       }))`,
    ]);
    const seen = JSON.parse(probe.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(seen).toMatchObject({
      typescript: false,
      prismaCli: false,
      jest: false,
      prismaClient: true,
      schemaEngine: true,
      secret: false,
    });
    expect(seen.uid).not.toBe(0);
    // The old-generation limit took (heap_size_limit adds the young generation to it).
    expect(seen.heapLimitMB).toBeGreaterThanOrEqual(128);
    expect(seen.heapLimitMB).toBeLessThan(200);
    expect(Number(String(seen.node).split('.')[0])).toBeGreaterThanOrEqual(24);
    expect((await dockerOk(['run', '--rm', '--name', nameFor('id'), IMAGE, 'id', '-u'])).trim()).not.toBe(
      '0',
    );
    const history = await dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}', IMAGE]);
    expect(history).not.toContain('BEGIN CERTIFICATE');
  });

  it('`npm run db:migrate:prod` in a one-shot container applies every migration, in production mode, and a second run finds nothing to do', async () => {
    const migrations = readdirSync(join(REPO_ROOT, 'prisma', 'migrations')).filter((d) =>
      statSync(join(REPO_ROOT, 'prisma', 'migrations', d)).isDirectory(),
    );
    // What compose.yaml's migrate service gets: the production environment of the service.
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      WORKOS_API_KEY: 'sk_test_container',
      WORKOS_CLIENT_ID: 'client_container',
      AUTHKIT_DOMAIN: 'https://container.authkit.app',
      PUBLIC_URL: 'https://bridge.example.com',
      SESSION_SECRET: randomBytes(32).toString('base64url'),
    };
    const migrate = (role: string) =>
      dockerOk(
        ['run', '--rm', '--name', nameFor(role), '--network', 'host', ...envFlags(production), IMAGE].concat([
          'npm',
          'run',
          '--silent',
          'db:migrate:prod',
        ]),
        { env: cliEnv(production), timeoutMs: 120_000 },
      );
    const first = await migrate('migrate');
    expect(first).toContain('Applied to PostgreSQL:');
    for (const m of migrations) expect(first).toContain(m);
    expect((await migrate('migrate-again')).trim()).toBe('PostgreSQL is up to date.');
  });

  it('the users-add CLI in the image adds a local user (password on stdin)', async () => {
    const out = await dockerOk(
      [
        'run',
        '--rm',
        '-i',
        '--name',
        nameFor('users-add'),
        '--network',
        'host',
        ...envFlags(env),
        IMAGE,
        'node',
        'dist/src/cli/users-add.js',
        '--email',
        carol.email,
        '--first-name',
        'Carol',
        '--password-stdin',
      ],
      { env: cliEnv(env), input: `${carol.password}\n`, timeoutMs: 120_000 },
    );
    const id = /Added carol@example\.com \(id ([^)]+)\)/.exec(out)?.[1];
    expect(id).toBeDefined();
    carolId = id!;
  });

  it('the server container becomes ready, serves a v2 MCP SDK sign-in and whoami, and Docker reports it healthy', async () => {
    serverName = nameFor('server');
    server = spawnCaptured(
      DOCKER,
      [
        'run',
        '--rm',
        '--name',
        serverName,
        '--network',
        'host',
        '--health-interval',
        '1s',
        ...envFlags(env),
        IMAGE,
      ],
      { env: cliEnv(env) },
    );
    await waitUntilReady(Object.assign(server, { url }), '/readyz', 90_000);

    const provider = new BrowserOAuthProvider({
      name: 'container e2e v2 client',
      redirectUrl: 'http://127.0.0.1:9/callback',
      who: carol,
    });
    client = await connectClient('v2', `${url}/mcp`, provider);
    const me = await whoami(client);
    const workosUser = emulator!.users().find((u) => u.externalId === carolId);
    expect(workosUser).toBeDefined();
    expect(me).toMatchObject({ sub: workosUser!.id, legacy_user_id: carolId, email: carol.email });
    expect(provider.browser.history.some((u) => u.startsWith(`${url}/auth/login?external_auth_id=`))).toBe(
      true,
    );

    // The image's HEALTHCHECK (every second here: --health-interval) reaches /healthz from inside.
    let health: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> } | undefined;
    for (let i = 0; i < 60; i++) {
      health = JSON.parse(
        await dockerOk(['inspect', '--format', '{{json .State.Health}}', serverName]),
      ) as typeof health;
      if (health?.Status === 'healthy') break;
      await sleep(500);
    }
    expect(health?.Status).toBe('healthy');
    expect(health?.Log?.at(-1)?.ExitCode).toBe(0);
  });

  it('`docker stop` ends the server gracefully (exit 0, in well under the grace period)', async () => {
    await client?.close();
    client = undefined;
    const started = Date.now();
    await dockerOk(['stop', '--time', '15', serverName]);
    expect(await server!.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(12_000);
    server = undefined;
  });
});
