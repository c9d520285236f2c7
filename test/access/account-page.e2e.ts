/**
 * The person's page, GET /account/connections, driven over HTTP against the real app (AuthKit
 * emulator, real database: PGlite, or PostgreSQL with TEST_DATABASE_URL). Grants come from real
 * sign-ins through the Login URI, a token exchange at the emulator and one /mcp call each.
 */
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { RateLimiterService } from '../../src/legacy-session/rate-limiter.service';
import { LEGACY_USERS } from '../fixtures/legacy-app';
import { Browser, formFields, pageText, type Page } from '../login/browser';
import { CLIENT_ID, CLIENT_REDIRECT, clientAuthorize, startHarness, type Harness } from '../login/harness';
import { MCP_HEADERS, toolCall } from '../mcp/helpers';

const CONNECTIONS = '/account/connections';
const SIGN_IN = '/account/sign-in';
const SIGN_OUT = '/account/sign-out';
const revokeAction = (grantId: string) => `${CONNECTIONS}/${grantId}/revoke`;
/** The readable name the page gives the pre-registered client `client_test_mcp`. */
const APP_NAME = 'Client test mcp';

interface Who {
  email: string;
  password: string;
}

/** A connected MCP client: its access token and the grant the bridge recorded for it. */
interface Connection {
  token: string;
  grantId: string;
}

/** POST /mcp tools/call whoami with a bearer token. */
const callMcp = (h: Harness, token: string) =>
  fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, Authorization: `Bearer ${token}` },
    body: JSON.stringify(toolCall('whoami')),
  });

/**
 * What an MCP client and its person do: authorize at the emulator (PKCE, the bridge's /mcp as
 * resource), sign in at the bridge (the form, "Continue as", or the legacy app's login), exchange
 * the code, call /mcp once (which records the grant).
 */
async function connect(h: Harness, b: Browser, who: Who): Promise<Connection> {
  const resource = `${h.url}/mcp`;
  const auth = clientAuthorize(h.emulator.url, { resource, scope: 'openid profile email' });
  let page = await b.go(auth.url, {}, h.isClientRedirect);
  for (let steps = 0; page.status !== 0; steps++) {
    if (steps > 3) throw new Error(`no way through ${page.url}: ${pageText(page.html).slice(0, 300)}`);
    if (page.html.includes('action="/auth/login/local"'))
      page = await b.submit(page, '/auth/login/local', { ...who }, h.isClientRedirect);
    else if (page.html.includes('action="/auth/login/confirm"'))
      page = await b.submit(page, '/auth/login/confirm', { action: 'continue' }, h.isClientRedirect);
    else if (page.html.includes('action="/auth/login/connect"'))
      page = await b.submit(page, '/auth/login/connect', { action: 'continue' }, h.isClientRedirect);
    else if (page.html.includes('action="/login"'))
      page = await b.submit(page, '/login', { ...who }, h.isClientRedirect);
    else
      throw new Error(`unexpected page ${page.url} (${page.status}): ${pageText(page.html).slice(0, 300)}`);
  }
  const code = new URL(page.url).searchParams.get('code');
  if (!code) throw new Error(`no code in ${page.url}`);
  const res = await fetch(`${h.emulator.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLIENT_REDIRECT,
      client_id: CLIENT_ID,
      code_verifier: auth.verifier,
      resource,
    }),
  });
  const { access_token: token } = (await res.json()) as { access_token?: string };
  if (!token) throw new Error(`token exchange failed (${res.status})`);
  const before = new Set((await h.prisma.grant.findMany({ select: { id: true } })).map((g) => g.id));
  const call = await callMcp(h, token);
  expect(call.status).toBe(200);
  const created = (await h.prisma.grant.findMany({ select: { id: true } })).filter((g) => !before.has(g.id));
  expect(created).toHaveLength(1);
  return { token, grantId: created[0].id };
}

/** Polls /mcp with the token until it is refused (or `withinMs` passed); the last answer. */
async function refusedWithin(h: Harness, token: string, withinMs: number): Promise<Response> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const res = await callMcp(h, token);
    if (res.status === 401 || Date.now() > deadline) return res;
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The revoke buttons' accessible names on a page. */
const revokeLabels = (html: string) => [...html.matchAll(/aria-label="(Revoke [^"]*)"/g)].map((m) => m[1]);

describe('GET /account/connections, local strategy', () => {
  let h: Harness;
  let users: Record<'carol' | 'erin' | 'frank', Who & { id: string }>;

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local', env: { LOGIN_RATE_LIMIT_PER_IP: '10000' } });
    const local = h.app.get(LocalUsersService);
    const make = async (name: string) => {
      const who = { email: `${name}@example.com`, password: `${name}-password-1` };
      const u = await local.create({
        ...who,
        firstName: name[0].toUpperCase() + name.slice(1),
        lastName: 'Example',
      });
      return { ...who, id: u.id };
    };
    users = { carol: await make('carol'), erin: await make('erin'), frank: await make('frank') };
  });
  afterAll(() => h.close());

  const open = (b: Browser) => b.go(`${h.url}${CONNECTIONS}`);
  const signInHere = (b: Browser, page: Page, who: Who) => b.submit(page, SIGN_IN, { ...who });

  it('not signed in: the sign-in form, never cached', async () => {
    const b = new Browser();
    const page = await open(b);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${h.url}${CONNECTIONS}?checked=1`);
    expect(pageText(page.html)).toContain('Sign in to see your connections');
    expect(page.html).toContain(`action="${SIGN_IN}"`);
    expect(page.html).toMatch(/<label for="email">Email<\/label>/);
    expect(page.html).toMatch(/<label for="password">Password<\/label>/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(formFields(page.html, SIGN_IN).csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Its cookies stay under /account (the binding of the CSRF token).
    expect(Object.keys(b.cookiesFor(`${h.url}${CONNECTIONS}`))).toEqual(['cbridge_account']);
    expect(b.cookiesFor(`${h.url}/mcp`)).toEqual({});
  });

  it('a wrong password: the form again with a message; the right one: the (empty) page', async () => {
    const b = new Browser();
    const form = await open(b);
    const wrong = await signInHere(b, form, { email: users.frank.email, password: 'not-it-at-all' });
    expect(wrong.status).toBe(401);
    expect(wrong.html).toContain('role="alert"');
    expect(pageText(wrong.html)).toContain('That email and password do not match an account.');
    expect(wrong.html).toContain(`value="${users.frank.email}"`);

    const page = await signInHere(b, wrong, users.frank);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${h.url}${CONNECTIONS}`);
    const text = pageText(page.html);
    expect(text).toContain('Signed in as Frank Example (frank@example.com)');
    expect(text).toContain('No AI application is connected');
    expect(text).toContain(`${h.url}/mcp`);
    expect(page.html).toContain('href="/docs/mcp"');
    expect(page.headers.get('cache-control')).toBe('no-store');
    // One session for the page and the Login URI: signing in here means "Continue as" there.
    const session = b.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session;
    expect(session).toBeTruthy();
    expect(b.cookiesFor(`${h.url}/auth/login`).cbridge_session).toBe(session);
    const confirm = await b.go(h.authorizeUrl());
    expect(pageText(confirm.html)).toContain('Continue as frank@example.com');
  });

  it('a new session id at every sign-in here: a planted session cookie is never promoted', async () => {
    // Someone signs in and plants their session cookie in another browser.
    const planter = new Browser();
    await signInHere(planter, await open(planter), users.frank);
    const planted = planter.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session;
    const b = new Browser();
    const form = await open(b);
    b.setCookie(h.url, 'cbridge_session', planted, '/account');
    const page = await signInHere(b, form, users.frank);
    expect(page.status).toBe(200);
    const session = b.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session;
    expect(session).toBeTruthy();
    expect(session).not.toBe(planted);
    // The planted session is over: whoever holds it is signed out.
    expect(pageText((await planter.go(`${h.url}${CONNECTIONS}?checked=1`)).html)).toContain(
      'Sign in to see your connections',
    );
  });

  it('refuses a sign-in without the CSRF token, or from another origin', async () => {
    const b = new Browser();
    const form = await open(b);
    const forged = await b.request(`${h.url}${SIGN_IN}`, { form: { ...users.frank } });
    expect(forged.status).toBe(403);
    expect(pageText(forged.html)).toContain('This form has expired');
    const foreign = await b.request(`${h.url}${SIGN_IN}`, {
      form: { ...formFields(form.html, SIGN_IN), ...users.frank },
      headers: { Origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(b.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session).toBeUndefined();
  });

  it('says so when sign-ins are rate-limited, with Retry-After', async () => {
    const limiter = h.app.get(RateLimiterService);
    const saved = limiter.limits;
    limiter.limits = { ...saved, perAccount: { limit: 2, windowSeconds: 120 } };
    try {
      const b = new Browser();
      const who = { email: 'nobody-limited@example.com', password: 'guess-guess' };
      let page = await open(b);
      for (let i = 0; i < 2; i++) {
        page = await signInHere(b, page, who);
        expect(page.status).toBe(401);
      }
      const limited = await signInHere(b, page, who);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(pageText(limited.html)).toMatch(/Too many sign-in attempts\. Try again in \d+ minutes?\./);
    } finally {
      limiter.limits = saved;
    }
  });

  describe('with connected applications', () => {
    const carol = new Browser();
    const erin = new Browser();
    let carolApps: Connection[];
    let erinApp: Connection;

    beforeAll(async () => {
      carolApps = [await connect(h, carol, users.carol), await connect(h, carol, users.carol)];
      erinApp = await connect(h, erin, users.erin);
    });

    it('lists them for the person signed in at the Login URI (no second sign-in)', async () => {
      const page = await open(carol);
      expect(page.status).toBe(200);
      expect(carol.history.slice(-3).map((u) => new URL(u).pathname)).toEqual([
        CONNECTIONS,
        '/auth/account-session',
        CONNECTIONS,
      ]);
      const text = pageText(page.html);
      expect(text).toContain('Signed in as Carol Example (carol@example.com)');
      expect(text).toContain('Connected (2)');
      expect(text).toContain(APP_NAME);
      expect(page.html).toContain(`<code>${CLIENT_ID}</code>`);
      for (const words of ['Know which account is yours', 'See your name', 'See your email address'])
        expect(text).toContain(words);
      const today = new Intl.DateTimeFormat('en-GB', {
        day: 'numeric',
        month: 'long',
        year: 'numeric',
        timeZone: 'UTC',
      }).format(new Date());
      expect(text).toContain(`Connected ${today}`);
      expect(text).toMatch(/Last used (just now|1 minute ago)/);
      expect(revokeLabels(page.html)).toEqual([`Revoke ${APP_NAME}`, `Revoke ${APP_NAME}`]);
      for (const app of carolApps) expect(page.html).toContain(`action="${revokeAction(app.grantId)}"`);
      // Only hers.
      expect(page.html).not.toContain(erinApp.grantId);
      expect(page.html).toContain(`action="${SIGN_OUT}"`);
    });

    it('refuses a revocation without the CSRF token (403), and nothing ends', async () => {
      const page = await open(carol);
      const [app] = carolApps;
      const noToken = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        method: 'POST',
        form: {},
      });
      expect(noToken.status).toBe(403);
      expect(pageText(noToken.html)).toContain('This form has expired, so nothing was changed.');
      const wrongToken = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        form: { csrf: formFields(page.html, SIGN_OUT).csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) },
      });
      expect(wrongToken.status).toBe(403);
      const foreign = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        form: formFields(page.html, revokeAction(app.grantId)),
        headers: { Origin: 'https://evil.example' },
      });
      expect(foreign.status).toBe(403);
      // Another person's token (from their own page) does not work in this browser either.
      const erinPage = await open(erin);
      const crossed = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        form: formFields(erinPage.html, revokeAction(erinApp.grantId)),
      });
      expect(crossed.status).toBe(403);
      await expect(h.prisma.grant.findUnique({ where: { id: app.grantId } })).resolves.toMatchObject({
        revokedAt: null,
      });
      expect((await callMcp(h, app.token)).status).toBe(200);
    });

    it("refuses to revoke someone else's grant, and theirs stays", async () => {
      const page = await open(carol);
      const csrf = formFields(page.html, revokeAction(carolApps[0].grantId)).csrf;
      const res = await carol.request(`${h.url}${revokeAction(erinApp.grantId)}`, { form: { csrf } });
      expect(res.status).toBe(404);
      expect(res.html).toContain('role="alert"');
      expect(pageText(res.html)).toContain(
        'That application is not among the ones connected to your account, so nothing was changed.',
      );
      // The same answer for an id that does not exist at all.
      const unknown = await carol.request(`${h.url}${revokeAction('grant_nope')}`, { form: { csrf } });
      expect(unknown.status).toBe(404);
      await expect(h.prisma.grant.findUnique({ where: { id: erinApp.grantId } })).resolves.toMatchObject({
        revokedAt: null,
      });
      expect((await callMcp(h, erinApp.token)).status).toBe(200);
    });

    it('revokes with the CSRF token: 303 to the page with a confirmation; the token is refused within 5 s', async () => {
      const [app, other] = carolApps;
      const page = await open(carol);
      const posted = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        form: formFields(page.html, revokeAction(app.grantId)),
        headers: { Origin: h.url },
      });
      expect(posted.status).toBe(303);
      expect(posted.headers.get('location')).toBe(CONNECTIONS);
      expect(posted.headers.get('cache-control')).toBe('no-store');

      const refused = await refusedWithin(h, app.token, 5000);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/error_description="[^"]*revoked/);

      const after = await carol.go(`${h.url}${CONNECTIONS}`);
      expect(after.status).toBe(200);
      expect(after.html).toContain('role="status"');
      expect(pageText(after.html)).toContain(
        `${APP_NAME} can no longer act as you. It may have kept working for up to a few seconds.`,
      );
      expect(pageText(after.html)).toContain('Connected (1)');
      expect(after.html).not.toContain(app.grantId);
      expect(after.html).toContain(other.grantId);
      // Said once.
      expect(pageText((await open(carol)).html)).not.toContain('can no longer act as you');

      const row = await h.prisma.grant.findUnique({ where: { id: app.grantId } });
      expect(row).toMatchObject({ revokedBy: 'user' });
      expect(row!.revokedAt).toBeInstanceOf(Date);
      await expect(
        h.prisma.accessAudit.findFirst({ where: { grantId: app.grantId, action: 'revoke_grant' } }),
      ).resolves.toMatchObject({ actor: 'user', actorDetail: users.carol.id });
      // The other connection still works.
      expect((await callMcp(h, other.token)).status).toBe(200);

      // Revoking it again: a clear message, not an error.
      const again = await carol.request(`${h.url}${revokeAction(app.grantId)}`, {
        form: formFields(after.html, revokeAction(other.grantId)),
      });
      expect(again.status).toBe(303);
      expect(pageText((await carol.go(`${h.url}${CONNECTIONS}`)).html)).toContain(
        `${APP_NAME} was already disconnected`,
      );
    });

    it('sign-out ends the session: the Login URI no longer offers "Continue as"', async () => {
      const before = await b4Continue(carol);
      expect(before).toContain('Continue as carol@example.com');
      const page = await open(carol);
      const token = carol.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session;
      // Without the CSRF token: refused, still signed in.
      expect((await carol.request(`${h.url}${SIGN_OUT}`, { method: 'POST', form: {} })).status).toBe(403);
      expect(pageText((await open(carol)).html)).toContain('Signed in as Carol Example');

      const out = await carol.submit(page, SIGN_OUT);
      expect(out.status).toBe(200);
      expect(out.url).toBe(`${h.url}${CONNECTIONS}?signed_out=1`);
      expect(pageText(out.html)).toContain('You are signed out.');
      expect(out.html).toContain(`action="${SIGN_IN}"`);
      expect(carol.cookiesFor(`${h.url}${CONNECTIONS}`).cbridge_session).toBeUndefined();
      expect(carol.cookiesFor(`${h.url}/auth/login`).cbridge_session).toBeUndefined();
      // The session is gone from the database too: the old cookie opens nothing.
      const replay = new Browser();
      replay.setCookie(h.url, 'cbridge_session', token, '/auth');
      expect(await b4Continue(replay)).toContain('Sign in to continue');

      const login = await b4Continue(carol);
      expect(login).toContain('Sign in to continue');
      expect(login).not.toContain('Continue as');
      expect(pageText((await open(carol)).html)).toContain('Sign in to see your connections');
      // Signing out revoked nothing.
      expect((await callMcp(h, carolApps[1].token)).status).toBe(200);
    });

    /** The text of the first bridge page of a new authorization in this browser. */
    async function b4Continue(b: Browser): Promise<string> {
      return pageText((await b.go(h.authorizeUrl())).html);
    }
  });
});

describe('GET /account/connections, session-introspection strategy', () => {
  let h: Harness;
  const [alice] = LEGACY_USERS;

  beforeAll(async () => {
    h = await startHarness({ strategy: 'session-introspection' });
  });
  beforeEach(() => {
    h.legacy!.mode = 'normal';
  });
  afterAll(() => h.close());

  it('not signed in: 302 to the legacy login with return_to = this page', async () => {
    const b = new Browser();
    const res = await b.request(`${h.url}${CONNECTIONS}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const target = new URL(res.headers.get('location')!);
    expect(`${target.origin}${target.pathname}`).toBe(h.legacy!.loginUrl);
    expect(target.searchParams.get('return_to')).toBe(`${h.url}${CONNECTIONS}`);
  });

  it('signed in at the legacy app: the page, with its sign-out note and link', async () => {
    const b = new Browser();
    const login = await b.go(`${h.url}${CONNECTIONS}`);
    expect(login.url.startsWith(`${h.legacy!.loginUrl}?`)).toBe(true);
    const page = await b.submit(login, '/login', { email: alice.email, password: alice.password });
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${h.url}${CONNECTIONS}`);
    const text = pageText(page.html);
    expect(text).toContain('Signed in as Alice Anderson (alice@example.com)');
    expect(text).toContain('No AI application is connected');
    expect(text).toContain('signing out happens there');
    expect(page.html).toContain(`href="${h.legacy!.logoutUrl}"`);
    expect(page.html).not.toContain(`action="${SIGN_OUT}"`);
  });

  it('lists and revokes a grant of the legacy user', async () => {
    const b = new Browser();
    const app = await connect(h, b, alice);
    const page = await b.go(`${h.url}${CONNECTIONS}`);
    expect(revokeLabels(page.html)).toEqual([`Revoke ${APP_NAME}`]);
    const posted = await b.submit(page, revokeAction(app.grantId));
    expect(pageText(posted.html)).toContain(`${APP_NAME} can no longer act as you.`);
    expect((await refusedWithin(h, app.token, 5000)).status).toBe(401);
  });

  it('the legacy app down: a 503 page with a retry link', async () => {
    const b = new Browser();
    await b
      .go(`${h.url}${CONNECTIONS}`)
      .then((login) => b.submit(login, '/login', { email: alice.email, password: alice.password }));
    h.legacy!.mode = 'down';
    const page = await b.request(`${h.url}${CONNECTIONS}`);
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('5');
    expect(pageText(page.html)).toContain('The sign-in service is unavailable');
    expect(page.html).toContain(`href="${CONNECTIONS}"`);
  });

  it('stops sending the browser to the legacy login when no session ever comes back', async () => {
    // As if the legacy login came back each time without a session the bridge can see.
    const b = new Browser();
    for (let i = 0; i < 3; i++) expect((await b.request(`${h.url}${CONNECTIONS}`)).status).toBe(302);
    const stuck = await b.request(`${h.url}${CONNECTIONS}`);
    expect(stuck.status).toBe(400);
    expect(pageText(stuck.html)).toContain('We could not see your sign-in');
  });
});
