/**
 * A real browser (Debian's Chromium driven by playwright-core) walks the demo as a person would:
 * the home page, the sign-in form with a wrong password and then the right one, AuthKit's consent
 * page choosing a workspace, the result, the "Continue as / Use another account" step, an error
 * page, and the connected AI applications with a revocation (/account/connections). Every page
 * gets a screenshot in test-artifacts/screenshots/ and an axe-core check (no serious or critical
 * violations).
 *
 * Runs when /usr/bin/chromium exists and E2E_BROWSER is not `skip` (.ci/run skips it in the PGlite
 * pass). `E2E_BROWSER_DOCS=1` also copies the screenshots to docs/screenshots/ (ports 3000 and 4100).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  REPO_ROOT,
  childEnv,
  ensureBuilt,
  startBuiltServer,
  type BuiltServer,
} from '../helpers/built-server';
import { CHROMIUM, hasChromium, launchChromium } from '../helpers/chromium';

const skipReason = !hasChromium()
  ? `skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`
  : process.env.E2E_BROWSER === 'skip'
    ? 'skipped: E2E_BROWSER=skip (CI runs the browser suite in the PostgreSQL pass only)'
    : undefined;
const docs = process.env.E2E_BROWSER_DOCS === '1';
const SHOTS = join(REPO_ROOT, 'test-artifacts', 'screenshots');
const DOCS_SHOTS = join(REPO_ROOT, 'docs', 'screenshots');
const ALEX = {
  email: 'alex@example.com',
  password: 'alex-password-1',
  firstName: 'Alex',
  lastName: 'Rivera',
};

if (skipReason) test.skip(skipReason, () => {});

(skipReason ? describe.skip : describe)('the demo in a real browser (Chromium)', () => {
  let dataDir: string;
  let server: BuiltServer;
  let base: string;
  let demoPassword: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const shots: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    mkdirSync(SHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'cb-browser-'));
    const pglite = join(dataDir, 'pglite');
    // A second local account, added the way the README says (before the demo opens the database).
    const added = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'dist/src/cli/users-add.js'),
        ...['--email', ALEX.email, '--first-name', ALEX.firstName, '--last-name', ALEX.lastName],
        '--password-stdin',
      ],
      {
        env: childEnv({ PGLITE_DATA_DIR: pglite, LOG_LEVEL: 'warn' }),
        input: `${ALEX.password}\n`,
        encoding: 'utf8',
      },
    );
    if (added.status !== 0) throw new Error(`users:add failed: ${added.stdout}${added.stderr}`);
    server = await startBuiltServer({
      env: {
        PGLITE_DATA_DIR: pglite,
        ...(docs ? { PORT: '3000', EMULATOR_PORT: '4100' } : {}),
        NODE_ENV: 'development',
      },
      waitForLine: /^\s+Sign in as\s+/,
    });
    base = `http://localhost:${server.port}`;
    demoPassword = /Sign in as\s+\S+ \/ (\S+)/.exec(server.text)![1];
    browser = await launchChromium();
    // The pages' CSP forbids scripts: let axe-core in (only in this test browser).
    context = await browser.newContext({
      bypassCSP: true,
      viewport: { width: 1000, height: 760 },
      colorScheme: 'light',
    });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (docs && shots.length) {
      mkdirSync(DOCS_SHOTS, { recursive: true });
      for (const name of shots) copyFileSync(join(SHOTS, name), join(DOCS_SHOTS, name));
    }
  });

  /** Screenshot + accessibility check of the page as it is now. */
  async function check(name: string): Promise<void> {
    const file = `${name}.png`;
    await page.screenshot({ path: join(SHOTS, file), fullPage: true });
    shots.push(file);
    await page.addScriptTag({ content: axeSource });
    const violations = await page.evaluate(async () => {
      const axe = (
        globalThis as unknown as { axe: { run(): Promise<{ violations: Array<Record<string, unknown>> }> } }
      ).axe;
      const result = await axe.run();
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: (v.nodes as Array<{ target: unknown }>).map((n) => n.target),
      }));
    });
    expect({
      page: name,
      serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
    }).toEqual({
      page: name,
      serious: [],
    });
  }

  const heading = () => page.locator('h1').innerText();

  it('home page: explains the flow with a diagram and links', async () => {
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(await heading()).toBe('Welcome to the demo');
    // One drawing shown at a time: the wide one here, the phone one at phone width.
    expect(await page.locator('svg[role="img"]:visible').count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Start the sign-in' }).count()).toBe(1);
    await check('01-home');
  });

  it('home page on a 320 px phone: no sideways scrolling, the diagram fits and its text stays readable', async () => {
    await page.setViewportSize({ width: 320, height: 640 });
    try {
      await page.goto(`${base}/`);
      const layout = await page.evaluate(() => {
        type Box = { getBoundingClientRect(): { right: number; width: number; height: number } };
        type El = Box & { querySelectorAll(selector: string): ArrayLike<Box> };
        const doc = (
          globalThis as unknown as {
            document: {
              documentElement: { scrollWidth: number };
              querySelectorAll(s: string): ArrayLike<El>;
            };
          }
        ).document;
        const shown = Array.from(doc.querySelectorAll('svg[role="img"]')).filter(
          (e) => e.getBoundingClientRect().width > 0,
        );
        const svg = shown[0];
        const box = svg.getBoundingClientRect();
        const texts = Array.from(svg.querySelectorAll('text')).map((t) => t.getBoundingClientRect().height);
        return {
          scrollWidth: doc.documentElement.scrollWidth,
          svgRight: box.right,
          smallestText: texts.length ? Math.min(...texts) : 0,
          drawingsShown: shown.length,
        };
      });
      expect(layout.scrollWidth).toBeLessThanOrEqual(320);
      expect(layout.drawingsShown).toBe(1);
      expect(layout.svgRight).toBeLessThanOrEqual(320);
      // Rendered text at least 9 px tall: readable on a phone without zooming.
      expect(layout.smallestText).toBeGreaterThanOrEqual(9);
      await check('01b-home-phone');
    } finally {
      await page.setViewportSize({ width: 1000, height: 760 });
    }
  });

  it('sign-in form, then a wrong password', async () => {
    await page.getByRole('link', { name: 'Start the sign-in' }).click();
    await page.waitForURL(/\/auth\/login\?external_auth_id=/);
    expect(await heading()).toMatch(/sign in/i);
    // What is asking, where, and a way out, before any password.
    expect(await page.locator('main').innerText()).toMatch(
      /An AI application is asking to connect to your account at localhost:\d+\./,
    );
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(1);
    await check('02-sign-in');

    await page.getByLabel('Email').fill('demo@example.com');
    await page.getByLabel('Password').fill('not-the-password');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/auth/login/local')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(res.status()).toBe(401);
    await page.waitForLoadState();
    expect(await page.locator('.error').innerText()).toMatch(/email and password do not match/i);
    await check('03-wrong-password');
  });

  it('the right password: AuthKit asks which workspace, returns a code, the MCP server answers whoami', async () => {
    await page.getByLabel('Password').fill(demoPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The demo user is in two workspaces: AuthKit's consent page asks which one.
    await page.waitForURL(/\/oauth2\/consent\?/);
    expect(await heading()).toMatch(/^Allow .+ to access your account\?$/);
    const workspace = page.getByRole('group', { name: 'Workspace' });
    expect(await workspace.getByRole('radio').count()).toBe(2);
    await workspace.getByLabel('Globex').check();
    await check('03b-consent-workspace');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/demo\/callback\?/);
    expect(await heading()).toBe('Signed in: the MCP server knows you');
    expect(await page.locator('pre').first().innerText()).toContain('"email": "demo@example.com"');
    expect(await page.locator('pre').nth(1).innerText()).toContain('"tenant": "globex"');
    // The workspace chosen on the consent page is the one the MCP server's whoami reports.
    expect(await page.locator('pre').first().innerText()).toMatch(
      /"tenant": \{\s*"id": "globex",\s*"name": "Globex"/,
    );
    expect(await page.getByRole('link', { name: '/account/connections' }).count()).toBe(1);
    await check('04-signed-in');
  });

  it('signed in already: "Continue as" or "Use another account"', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Start the sign-in' }).click();
    await page.waitForURL(/\/auth\/login\?external_auth_id=/);
    const continueAs = page.getByRole('button', { name: 'Continue as demo@example.com' });
    expect(await continueAs.count()).toBe(1);
    await check('05-continue-as');

    await page.getByRole('button', { name: 'Use another account' }).click();
    await page.waitForLoadState();
    await page.getByLabel('Email').fill(ALEX.email);
    await page.getByLabel('Password').fill(ALEX.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/demo\/callback\?/);
    expect(await page.locator('pre').first().innerText()).toContain(`"email": "${ALEX.email}"`);
  });

  it('an error page: a Login URI without a valid external_auth_id', async () => {
    const res = await page.goto(`${base}/auth/login?external_auth_id=not%20valid!`);
    expect(res?.status()).toBe(400);
    expect(await page.locator('body').innerText()).toMatch(/start the connection again/i);
    await check('06-error');
  });

  it('a made-up external_auth_id: after "Continue as", a page that says the link is not valid or has expired', async () => {
    await page.goto(`${base}/auth/login?external_auth_id=ext_auth_01MADEUPMADEUPMADEUPMADE`);
    await page.getByRole('button', { name: /^Continue as / }).click();
    await page.waitForLoadState();
    expect(await heading()).toBe('This sign-in link is not valid or has expired');
    expect(await page.locator('body').innerText()).toMatch(/start the connection again/i);
    await check('06b-link-not-valid');
  });

  it('the page for people connecting clients (/docs/mcp)', async () => {
    const res = await page.goto(`${base}/docs/mcp`);
    expect(res?.status()).toBe(200);
    await check('07-docs-mcp');
  });

  it('the connected AI applications (/account/connections), then a revocation', async () => {
    // Signed in as Alex since the "Use another account" step, whose walk-through connected the demo client.
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'The AI applications connected to your account' }).click();
    await page.waitForURL(/\/account\/connections/);
    expect(await heading()).toBe('Connected AI applications');
    expect(await page.locator('main').innerText()).toContain(`Signed in as Alex Rivera (${ALEX.email})`);
    const revoke = page.getByRole('button', { name: 'Revoke Demo client' });
    expect(await revoke.count()).toBe(1);
    expect(await page.locator('main').innerText()).toMatch(
      /Connected \d{1,2} \w+ \d{4} · Last used (just now|\d+ minutes? ago)/,
    );
    await check('08-connections');

    // A phone: no sideways scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
            .documentElement.scrollWidth,
      ),
    ).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1000, height: 760 });

    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/revoke')),
      revoke.click(),
    ]);
    expect(res.status()).toBe(303);
    await page.waitForURL(/\/account\/connections$/);
    expect(await page.getByRole('status').innerText()).toBe(
      'Demo client can no longer act as you. It may have kept working for up to a few seconds.',
    );
    expect(await page.getByRole('button', { name: 'Revoke Demo client' }).count()).toBe(0);
    expect(await page.locator('main').innerText()).toContain('No AI application is connected');
    await check('09-connection-revoked');
  });
});
