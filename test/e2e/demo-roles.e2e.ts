/**
 * The demo's roles and workspaces, in-process (the demo as main.ts assembles it: the embedded
 * AuthKit emulator and the demo module): the demo user's two workspaces make the consent page ask,
 * the walk-through shows the chosen tenant, and the home page's demo buttons change the demo user's
 * roles or disable them, with the effect recorded for every instance.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RevocationFeed } from '../../src/access/revocation-feed.service';
import { createApp } from '../../src/bootstrap';
import { PrismaService } from '../../src/database/prisma.service';
import { demoInfo, startDemoAuthKit, type DemoAuthKit } from '../../src/demo/demo-authkit';
import { DemoModule } from '../../src/demo/demo.module';
import { DEMO_READER, DEMO_USER, DemoUserSeeder } from '../../src/legacy-session/demo-user.seeder';
import { testConfig } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { Browser, formFields, pageText, radioChoices, type Page } from '../login/browser';
import { chooseOnConsent, isConsentPage } from '../login/harness';

describe('the demo: roles, workspaces and the demo-user buttons', () => {
  let db: TestDatabase;
  let demo: DemoAuthKit;
  let app: NestExpressApplication;
  let base: string;
  let password: string;
  let demoUserId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    demo = await startDemoAuthKit(testConfig({ PUBLIC_URL: base }, db.database), { port: 0 });
    app = await createApp(demo.config, { modules: [DemoModule.forRoot(demoInfo(demo, DEMO_USER.email))] });
    await app.listen(port, '127.0.0.1');
    password = app.get(DemoUserSeeder).password!;
    demoUserId = (await prisma().localUser.findUniqueOrThrow({ where: { email: DEMO_USER.email } })).id;
  });
  afterAll(async () => {
    await app?.close();
    await demo?.close();
    await db?.dispose();
  });

  const prisma = () => app.get(PrismaService);
  const atCallback = (url: string) => url.startsWith(`${base}/demo/callback?`);
  /** "Start the sign-in" on the home page, through the built-in form (or "Continue as"). */
  const startSignIn = async (b: Browser, who: { email: string; password: string }) => {
    const first = await b.go(`${base}/demo/start`);
    if (first.html.includes('action="/auth/login/confirm"'))
      return b.submit(first, '/auth/login/confirm', { action: 'continue' });
    return b.submit(first, '/auth/login/local', { email: who.email, password: who.password });
  };
  const home = (b: Browser, query = '') => b.go(`${base}/${query}`);
  /** The page's text with no space before punctuation (tags become spaces in pageText). */
  const textOf = (page: Page) => pageText(page.html).replace(/ ([,.;:])/g, '$1');
  const press = (b: Browser, page: Page, action: string) =>
    b.submit(page, '/demo/user', { action }, () => false);
  const linkOf = () =>
    prisma().userLink.findUniqueOrThrow({
      where: { legacyUserId: demoUserId },
      select: { roles: true, tenants: true, active: true },
    });

  it('seeds the demo user as an admin in two workspaces and a reader in one, with one password', async () => {
    const rows = await prisma().localUser.findMany({
      where: { email: { in: [DEMO_USER.email, DEMO_READER.email] } },
      orderBy: { email: 'asc' },
      select: { email: true, roles: true, tenants: true },
    });
    expect(rows).toEqual([
      { email: DEMO_USER.email, roles: ['admin'], tenants: DEMO_USER.tenants },
      { email: DEMO_READER.email, roles: ['reader'], tenants: [{ id: 'acme', name: 'Acme' }] },
    ]);
  });

  it('explains roles and workspaces on the home page, with the demo user as it is now', async () => {
    const page = await home(new Browser());
    const text = textOf(page);
    expect(text).toContain('Roles and workspaces');
    expect(text).toContain(
      'Here demo@example.com is in two workspaces (Acme, Globex), so the consent page asks which one',
    );
    expect(text).toContain('Now: roles admin, active.');
    expect(page.html).toContain('value="make-reader"');
    expect(page.html).toContain('value="disable"');
  });

  it('two workspaces: the consent page asks which; the result shows the chosen tenant', async () => {
    const b = new Browser();
    const consent = await startSignIn(b, { email: DEMO_USER.email, password });
    expect(isConsentPage(consent)).toBe(true);
    expect(radioChoices(consent.html, 'choice_0').map((c) => c.label)).toEqual(['Acme', 'Globex']);
    const result = await chooseOnConsent(b, consent, 'Workspace', 'Globex');
    expect(atCallback(result.url)).toBe(true);
    expect(result.status).toBe(200);
    const text = pageText(result.html);
    expect(text).toContain('Signed in: the MCP server knows you');
    expect(text).toContain('"tenant": "globex"'); // the token's claim
    expect(text).toMatch(/"tenant": \{ "id": "globex", "name": "Globex" \}/); // whoami
    await expect(linkOf()).resolves.toEqual({ roles: ['admin'], tenants: DEMO_USER.tenants, active: true });
  });

  it('one workspace: reader@example.com signs in without a question', async () => {
    const b = new Browser();
    const result = await startSignIn(b, { email: DEMO_READER.email, password });
    expect(atCallback(result.url)).toBe(true);
    const text = pageText(result.html);
    expect(text).not.toContain('"tenant": "acme"'); // no claim: nothing was chosen
    expect(text).toMatch(/"tenant": \{ "id": "acme", "name": "Acme" \}/); // whoami: the only one
  });

  it('"Make … a reader": the roles change for the next sign-in and for every instance', async () => {
    const b = new Browser();
    const before = await prisma().grantRevocation.count({
      where: { kind: 'identity', legacyUserId: demoUserId },
    });
    const done = await press(b, await home(b), 'make-reader');
    expect(done.url).toBe(`${base}/?demo-user=make-reader#roles`);
    const text = textOf(done);
    expect(text).toContain('Done: demo@example.com is now a reader.');
    expect(text).toContain('Now: roles reader, active.');
    expect(done.html).toContain('value="make-admin"');
    await expect(linkOf()).resolves.toMatchObject({ roles: ['reader'], active: true });
    expect(
      await prisma().grantRevocation.count({ where: { kind: 'identity', legacyUserId: demoUserId } }),
    ).toBe(before + 1);
    // The walk-through again: whoami says reader (once this instance read the news: at once with
    // PostgreSQL's NOTIFY, at the next poll with PGlite).
    await app.get(RevocationFeed).poll();
    const consent = await startSignIn(b, { email: DEMO_USER.email, password });
    const result = await chooseOnConsent(b, consent, 'Workspace', 'Acme');
    expect(pageText(result.html)).toMatch(/"roles": \[ "reader" \]/);

    await press(b, await home(b), 'make-admin');
    await expect(linkOf()).resolves.toMatchObject({ roles: ['admin'] });
  });

  it('"Disable": no sign-in, every grant ended; "Enable": back', async () => {
    // A connection first (the walk-through's whoami records a grant).
    const b = new Browser();
    await chooseOnConsent(b, await startSignIn(b, { email: DEMO_USER.email, password }), 'Workspace', 'Acme');
    expect(
      await prisma().grant.count({ where: { legacyUserId: demoUserId, revokedAt: null } }),
    ).toBeGreaterThan(0);

    const done = await press(b, await home(b), 'disable');
    expect(textOf(done)).toContain('Done: demo@example.com is disabled');
    expect(textOf(done)).toContain('Now: roles admin, disabled.');
    expect(await prisma().grant.count({ where: { legacyUserId: demoUserId, revokedAt: null } })).toBe(0);
    await expect(linkOf()).resolves.toMatchObject({ active: false });
    // The bridge session no longer counts; the form says the account is disabled.
    const form = await b.go(`${base}/demo/start`);
    expect(form.html).toContain('action="/auth/login/local"');
    const refused = await b.submit(form, '/auth/login/local', { email: DEMO_USER.email, password });
    expect(refused.status).toBe(403);
    expect(pageText(refused.html)).toContain('This account is disabled');

    await press(b, await home(b), 'enable');
    await expect(linkOf()).resolves.toMatchObject({ active: true });
    expect(isConsentPage(await startSignIn(b, { email: DEMO_USER.email, password }))).toBe(true);
  });

  it('refuses the buttons without this browser’s CSRF token or from another origin', async () => {
    const b = new Browser();
    const page = await home(b);
    const fields = formFields(page.html, '/demo/user');
    const refused = [
      await b.request(`${base}/demo/user`, { form: { action: 'disable' } }),
      await b.request(`${base}/demo/user`, { form: { csrf: 'x', action: 'disable' } }),
      await b.request(`${base}/demo/user`, {
        form: { ...fields, action: 'disable' },
        headers: { Origin: 'https://evil.example' },
      }),
      await new Browser().request(`${base}/demo/user`, { form: { ...fields, action: 'disable' } }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    const unknown = await b.request(`${base}/demo/user`, { form: { ...fields, action: 'make-owner' } });
    expect(unknown.status).toBe(400);
    await expect(linkOf()).resolves.toMatchObject({ active: true, roles: ['admin'] });
  });
});
