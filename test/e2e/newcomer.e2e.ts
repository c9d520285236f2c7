/**
 * `npm start` as a newcomer meets it: the command from the README's quick start (with free ports and
 * a fresh data folder instead of :3000, :4100 and .data/), the printed URLs, then the v1 SDK client's
 * whole flow against it, the printed SDK-client command, and the home page's own walk-through.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  childEnv,
  ensureBuilt,
  spawnCaptured,
  withBuildLock,
  type SpawnedProcess,
} from '../helpers/built-server';
import { Browser, pageText, radioChoices } from '../login/browser';
import { freePort } from '../login/harness';
import { BrowserOAuthProvider, connectClient, whoami, type Exchange } from './mcp-flow';

describe('npm start, as a newcomer sees it', () => {
  let demo: SpawnedProcess;
  let dataDir: string;
  let port: number;
  const banner = {} as {
    home: string;
    mcp: string;
    email: string;
    password: string;
    authkit: string;
    sdk: string;
  };
  /** What the terminal showed when the banner had been printed. */
  let startup: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'cb-newcomer-'));
    port = await freePort();
    const env = childEnv({
      PORT: String(port),
      EMULATOR_PORT: String(await freePort()),
      PGLITE_DATA_DIR: join(dataDir, 'pglite'),
    });
    // `npm start` builds first: hold the build lock until it printed its banner, so no other
    // suite's build writes dist/ at the same time.
    await withBuildLock(async () => {
      demo = spawnCaptured('npm', ['start'], { env, detached: true });
      await demo.waitForLine(/^Connect an SDK client/, 90_000);
      await demo.waitForLine(/node dist\/src\/demo\/mcp-client\.js/, 5_000);
      await new Promise((r) => setTimeout(r, 300));
      startup = [...demo.lines];
    });
    const value = (label: RegExp) => {
      const line = demo.lines.find((l) => label.test(l));
      if (!line) throw new Error(`no ${label} line in:\n${demo.text}`);
      return line.replace(label, '').trim();
    };
    banner.home = value(/^\s+Home page\s+/).split(/\s+/)[0];
    banner.mcp = value(/^\s+MCP server\s+/);
    [banner.email, banner.password] = value(/^\s+Sign in as\s+/)
      .split(/\s+/)
      .filter((w) => w !== '/');
    banner.authkit = value(/^\s+AuthKit\s+/).split(/\s+/)[0];
    banner.sdk = demo.lines[demo.lines.findIndex((l) => /^Connect an SDK client/.test(l)) + 1].trim();
  }, 120_000);

  afterAll(async () => {
    const stopped = await demo?.stop('SIGINT'); // Ctrl+C
    rmSync(dataDir, { recursive: true, force: true });
    expect(stopped?.signal ?? stopped?.code).toBeDefined();
  });

  it('prints the MCP URL, the demo user and password, the emulator and how to connect clients', () => {
    expect(demo.lines.some((l) => l.startsWith('connect-bridge demo is ready'))).toBe(true);
    expect(banner.home).toBe(`http://localhost:${port}/`);
    expect(banner.mcp).toBe(`http://localhost:${port}/mcp`);
    expect(banner.email).toBe('demo@example.com');
    expect(banner.password).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(demo.lines.some((l) => /^\s+or as\s+reader@example\.com, same password/.test(l))).toBe(true);
    expect(banner.authkit).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.text).toContain('npx @modelcontextprotocol/inspector');
    expect(banner.sdk).toBe(`node dist/src/demo/mcp-client.js ${banner.mcp}`);
  });

  it('keeps the terminal quiet: human lines (no JSON), the banner last, no line per request', async () => {
    const start = startup.findIndex((l) => l.startsWith('connect-bridge demo is ready'));
    expect(start).toBeGreaterThan(-1);
    const before = startup.slice(0, start).filter((l) => l.trim() !== '' && !l.startsWith('>'));
    expect(before.filter((l) => l.trim().startsWith('{'))).toEqual([]);
    // The first line the service writes names its mode.
    expect(before.find((l) => /demo mode/i.test(l))).toBeDefined();
    // Nothing after the banner's last line (the SDK-client command).
    expect(
      startup
        .filter((l) => l.trim() !== '')
        .at(-1)
        ?.trim(),
    ).toBe(banner.sdk);
    // A browser's favicon request and a page view add no line.
    const lines = demo.lines.length;
    expect((await fetch(`${banner.home}favicon.ico`)).status).toBe(204);
    expect((await fetch(banner.home)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(demo.lines.slice(lines)).toEqual([]);
  });

  it('listens on loopback only (the demo signs anyone in)', async () => {
    const { networkInterfaces } = await import('node:os');
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!outside) return; // this machine has no other address to try
    const answer = await fetch(`http://${outside.address}:${port}/healthz`, {
      signal: AbortSignal.timeout(2000),
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(answer).toBe('refused');
  });

  it('serves the home page and the health checks', async () => {
    const home = await fetch(banner.home);
    expect(home.status).toBe(200);
    const text = pageText(await home.text());
    expect(text).toContain('Start the sign-in');
    expect(text).toContain(banner.mcp);
    expect((await fetch(`${banner.home}readyz`)).status).toBe(200);
  });

  it('the v1 SDK client goes from nothing to whoami as the demo user', async () => {
    const provider = new BrowserOAuthProvider({
      name: 'newcomer v1 client',
      redirectUrl: 'http://127.0.0.1:33540/callback',
      who: { email: banner.email, password: banner.password },
    });
    const log: Exchange[] = [];
    const client = await connectClient('v1', banner.mcp, provider, log);
    try {
      expect(log[0]).toMatchObject({ url: banner.mcp, status: 401 });
      expect(provider.authorizations[0].origin).toBe(banner.authkit);
      expect(await whoami(client)).toMatchObject({
        email: 'demo@example.com',
        legacy_user_id: expect.any(String),
      });
    } finally {
      await client.close();
    }
  });

  it('the printed SDK-client command prints a sign-in link, then whoami', async () => {
    const [command, ...args] = banner.sdk.split(' ');
    expect(command).toBe('node');
    const sdk = spawnCaptured(process.execPath, args, { env: childEnv({}) });
    try {
      await sdk.waitForLine(/^Open this link in your browser/, 20_000);
      const link = (await sdk.waitForLine(/^\s+http/, 5_000)).trim();
      const browser = new Browser();
      const form = await browser.go(link);
      expect(form.html).toContain('action="/auth/login/local"');
      const consent = await browser.submit(form, '/auth/login/local', {
        email: banner.email,
        password: banner.password,
      });
      // The demo user is in two workspaces: AuthKit's consent page asks which (the first is checked).
      expect(consent.html).toContain('<legend>Workspace</legend>');
      const done = await browser.submit(consent, '/oauth2/consent', { decision: 'allow' });
      expect(done.status).toBe(200);
      expect(pageText(done.html)).toContain('You can close this tab');
      await sdk.waitForLine(/^whoami answered:/, 10_000);
      expect(await sdk.exited).toEqual({ code: 0, signal: null });
      expect(sdk.text).toContain('"email":"demo@example.com"');
    } finally {
      await sdk.stop('SIGKILL');
    }
  });

  it('"Start the sign-in" on the home page walks the flow in the browser and shows whoami', async () => {
    const browser = new Browser();
    const form = await browser.go(`${banner.home}demo/start`);
    expect(form.html).toContain('action="/auth/login/local"');
    const consent = await browser.submit(form, '/auth/login/local', {
      email: banner.email,
      password: banner.password,
    });
    const globex = radioChoices(consent.html, 'choice_0').find((c) => c.label === 'Globex')!;
    const end = await browser.submit(consent, '/oauth2/consent', {
      choice_0: globex.value,
      decision: 'allow',
    });
    expect(end.url.startsWith(`${banner.home}demo/callback?`)).toBe(true);
    expect(end.status).toBe(200);
    const text = pageText(end.html);
    expect(text).toContain('Signed in: the MCP server knows you');
    expect(text).toContain('"email": "demo@example.com"');
    expect(text).toContain(`"aud": "${banner.mcp}"`);
    expect(text).toContain('"tenant": "globex"');
    // An unknown or replayed callback gets a page that offers to start again, not an error dump.
    const replay = await browser.go(end.url);
    expect(replay.status).toBe(400);
    expect(pageText(replay.html)).toContain('This sign-in link is unknown or expired');
  });
});
