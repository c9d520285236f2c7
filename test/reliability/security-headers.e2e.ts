/**
 * Security headers (helmet) on every response, `Cache-Control: no-store` on every answer of an
 * auth route whatever its outcome, HSTS only when PUBLIC_URL is https, and the cookie flags.
 */
import request from 'supertest';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { Browser, formFields } from '../login/browser';
import { startHarness, type Harness } from '../login/harness';
import { MCP_HEADERS, startWorld, toolCall, type McpWorld } from '../mcp/helpers';

const CSP =
  "default-src 'none';style-src 'unsafe-inline';img-src 'self' data:;base-uri 'none';frame-ancestors 'none'";

/** What every response carries. */
function expectSecurityHeaders(res: { headers: Record<string, unknown> }, https = false): void {
  expect(res.headers['content-security-policy']).toBe(CSP);
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('same-origin');
  expect(res.headers['x-powered-by']).toBeUndefined();
  if (https) expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  else expect(res.headers['strict-transport-security']).toBeUndefined();
}

/** A page of the service loads nothing the CSP forbids: no scripts, no external assets, no frames. */
function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/<script|<link|<iframe|<object|<embed|src="https?:|url\(/i);
}

describe('headers and cookies on http://', () => {
  let h: Harness;
  const carol = { email: 'carol@example.com', password: 'carol-password-1' };

  beforeAll(async () => {
    h = await startHarness({ strategy: 'local' });
    await h.app.get(LocalUsersService).create(carol);
  });
  afterAll(() => h.close());

  it('sends no-store and the security headers on every answer of every auth route', async () => {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl());
    const { tx, csrf } = formFields(form.html, '/auth/login/local');
    const cookie = Object.entries(b.cookiesFor(`${h.url}/auth/login`))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
    const html = { Accept: 'text/html' };
    const answers: Array<[string, request.Response]> = [
      [
        'the sign-in page',
        await request(h.url)
          .get(new URL(b.history.at(-1)!).pathname + new URL(b.history.at(-1)!).search)
          .set(html),
      ],
      ['a bad Login URI', await request(h.url).get('/auth/login?external_auth_id=%00').set(html)],
      ['a Login URI without parameters', await request(h.url).get('/auth/login').set(html)],
      ['resume without the cookie', await request(h.url).get(`/auth/login/resume?tx=${tx}`).set(html)],
      [
        'resume with the cookie',
        await request(h.url)
          .get(`/auth/login/resume?tx=${tx}`)
          .set({ ...html, Cookie: cookie }),
      ],
      [
        'a forged form post',
        await request(h.url).post('/auth/login/local').set(html).type('form').send({ tx, csrf: 'x' }),
      ],
      [
        'a wrong password',
        await request(h.url)
          .post('/auth/login/local')
          .set({ ...html, Cookie: cookie })
          .type('form')
          .send({ tx, csrf, email: carol.email, password: 'nope-nope' }),
      ],
      [
        'a confirm without a session',
        await request(h.url)
          .post('/auth/login/confirm')
          .set({ ...html, Cookie: cookie })
          .type('form')
          .send({ tx, csrf, action: 'continue' }),
      ],
      [
        'a retry without a failure',
        await request(h.url).post('/auth/login/retry').set(html).type('form').send({ tx, csrf }),
      ],
      [
        'malformed JSON',
        await request(h.url)
          .post('/auth/login/local')
          .set({ ...html, 'Content-Type': 'application/json' })
          .send('{bad'),
      ],
      [
        'an oversized form',
        await request(h.url)
          .post('/auth/login/local')
          .set(html)
          .type('form')
          .send(`tx=${'a'.repeat(70_000)}`),
      ],
      ['an unknown auth page', await request(h.url).get('/auth/nothing-here').set(html)],
      ['a method the route lacks', await request(h.url).delete('/auth/login').set(html)],
    ];
    // and the sign-in that completes: a redirect to AuthKit
    const done = await request(h.url)
      .post('/auth/login/local')
      .set({ ...html, Cookie: cookie })
      .type('form')
      .send({ tx, csrf, ...carol });
    answers.push(['the completed sign-in (a redirect)', done]);
    expect(done.status).toBe(303);
    for (const [what, res] of answers) {
      try {
        expect(res.headers['cache-control']).toBe('no-store');
        expectSecurityHeaders(res);
        if (/^text\/html/.test(String(res.headers['content-type']))) expectSelfContained(res.text);
      } catch (err) {
        throw new Error(`${what} (${res.status}): ${(err as Error).message}`);
      }
    }
  });

  it('sets the flow cookies HttpOnly, SameSite=Lax, under /auth, signed, and not Secure on http://', async () => {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl());
    const login = await request(h.url)
      .get(new URL(b.history.at(-1)!).pathname + new URL(b.history.at(-1)!).search)
      .set('Accept', 'text/html');
    const txCookie = (login.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('cbridge_tx_'),
    )!;
    expect(txCookie).toMatch(
      /^cbridge_tx_[A-Za-z0-9_-]{22}=s%3A[^;]+; Max-Age=\d+; Path=\/auth; Expires=[^;]+; HttpOnly; SameSite=Lax$/,
    );
    const { tx, csrf } = formFields(form.html, '/auth/login/local');
    const cookie = Object.entries(b.cookiesFor(`${h.url}/auth/login`))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
    const done = await request(h.url)
      .post('/auth/login/local')
      .set('Cookie', cookie)
      .type('form')
      .send({ tx, csrf, ...carol });
    const set = done.headers['set-cookie'] as unknown as string[];
    const session = set.find((c) => c.startsWith('cbridge_session=s%3A'))!;
    expect(session).toMatch(/; Path=\/auth; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    // the finished transaction's cookie is cleared with the same scope
    const cleared = set.find((c) => c.startsWith(`cbridge_tx_${tx}=;`))!;
    expect(cleared).toMatch(/Path=\/auth; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax/);
  });

  it('puts the security headers on the other routes too (MCP, discovery, health, docs)', async () => {
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/.well-known/oauth-protected-resource/mcp',
      '/docs/mcp',
      '/nothing',
    ]) {
      expectSecurityHeaders(await request(h.url).get(path));
    }
    const docs = await request(h.url).get('/docs/mcp');
    expectSelfContained(docs.text);
    expectSecurityHeaders(await request(h.url).post('/mcp').set(MCP_HEADERS).send(toolCall('whoami')));
  });
});

describe('headers and cookies when PUBLIC_URL is https://', () => {
  let w: McpWorld;

  beforeAll(async () => {
    w = await startWorld({ PUBLIC_URL: 'https://bridge.example.test', LOG_LEVEL: 'silent' });
    await w.bridge.app
      .get(LocalUsersService)
      .create({ email: 'dana@example.com', password: 'dana-password-1' });
  });
  afterAll(() => w.close());

  it('adds HSTS everywhere and marks every cookie Secure', async () => {
    expectSecurityHeaders(await request(w.bridge.url).get('/healthz'), true);
    const login = await request(w.bridge.url)
      .get('/auth/login?external_auth_id=ext_https_0001')
      .set('Accept', 'text/html');
    expectSecurityHeaders(login, true);
    const txCookie = (login.headers['set-cookie'] as unknown as string[])[0];
    expect(txCookie).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    const { tx, csrf } = formFields(login.text, '/auth/login/local');
    const signedIn = await request(w.bridge.url)
      .post('/auth/login/local')
      .set({ Accept: 'text/html', Cookie: txCookie.split(';')[0], Origin: 'https://bridge.example.test' })
      .type('form')
      .send({ tx, csrf, email: 'dana@example.com', password: 'dana-password-1' });
    // AuthKit does not know this external_auth_id, but the session was made first: look at its cookie
    const session = (signedIn.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('cbridge_session=s%3A'),
    )!;
    expect(session).toMatch(/; Path=\/auth; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/);
    expectSecurityHeaders(signedIn, true);
  });
});
