import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/bootstrap';
import { LocalUsersService } from '../../src/legacy-session/local-users.service';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { Browser, formFields } from './browser';
import { externalAuthIdOf, freePort, startHarness, type Harness } from './harness';
import { describeUnless, NEEDS_POSTGRES } from '../helpers/skip';

/**
 * Two instances on one PostgreSQL behind one PUBLIC_URL: a flow may hop between them, and two
 * requests racing on different instances still complete a transaction once. (The embedded
 * PGlite database belongs to one process, so this suite needs TEST_DATABASE_URL.)
 */
describeUnless(NEEDS_POSTGRES, __filename)('login bridge on two instances (PostgreSQL)', () => {
  let db: TestDatabase;
  let h: Harness;
  let second: NestExpressApplication;
  let secondUrl: string;
  const carol = { email: 'carol@example.com', password: 'carol-password-1' };

  beforeAll(async () => {
    db = await createTestDatabase();
    h = await startHarness({ strategy: 'local', db });
    second = await createApp(h.config);
    const port = await freePort();
    await second.listen(port, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${port}`;
    await h.app.get(LocalUsersService).create(carol);
  });
  afterAll(async () => {
    await second.close();
    await h.close();
    await db.dispose();
  });

  const loginUrlOf = (b: Browser) => b.history.findLast((u) => u.includes('/auth/login?external_auth_id='))!;
  const callsFor = (b: Browser) =>
    h.emulator.completionCalls().filter((c) => c.externalAuthId === externalAuthIdOf(loginUrlOf(b)));

  it('finishes on the second instance a flow the first one started', async () => {
    const b = new Browser();
    const form = await b.go(h.authorizeUrl());
    const posted = await b.go(
      `${secondUrl}/auth/login/local`,
      { method: 'POST', form: { ...formFields(form.html, '/auth/login/local'), ...carol } },
      h.isClientRedirect,
    );
    expect(h.isClientRedirect(posted.url)).toBe(true);
    expect(callsFor(b)).toHaveLength(1);
    // The bridge session made by the second instance is honoured by the first.
    const confirm = await b.go(h.authorizeUrl());
    expect(confirm.html).toContain('carol@example.com');
  });

  it('completes once when both instances race on the same transaction', async () => {
    const b = new Browser();
    await b.submit(await b.go(h.authorizeUrl()), '/auth/login/local', carol, h.isClientRedirect);
    const confirm = await b.go(h.authorizeUrl());
    const fields = { ...formFields(confirm.html, '/auth/login/confirm'), action: 'continue' };
    h.emulator.injectCompletionFault({ delayMs: 400 });
    const results = await Promise.all(
      [h.url, secondUrl].map((base) =>
        b.request(`${base}/auth/login/confirm`, { method: 'POST', form: fields }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([303, 409]);
    expect(callsFor(b)).toHaveLength(1);
  });
});
