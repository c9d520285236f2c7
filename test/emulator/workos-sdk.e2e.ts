import {
  ConflictException,
  GenericServerException,
  NotFoundException,
  OauthException,
  RateLimitExceededException,
  UnauthorizedException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { get, LOGIN_URI, pkce, startLogin } from './helpers';
import { refresh, signIn } from './session-helpers';

const CLIENT = { clientId: 'sdk_client', redirectUris: ['http://127.0.0.1:33418/callback'] };

/** The SDK the way the bridge builds it, pointed at the emulator. */
const sdk = (e: RunningEmulator, options: { apiKey?: string; maxRetries?: number } = {}) =>
  new WorkOS(options.apiKey ?? e.apiKey, {
    apiHostname: '127.0.0.1',
    port: e.port,
    https: false,
    maxRetries: options.maxRetries ?? 0,
  });

const login = (e: RunningEmulator, state = 'st') =>
  startLogin(e, {
    client_id: CLIENT.clientId,
    redirect_uri: CLIENT.redirectUris[0],
    response_type: 'code',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    state,
  });

async function caught(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

describe('AuthKit emulator with @workos-inc/node', () => {
  let emulator: RunningEmulator;
  let workos: WorkOS;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, loginUri: LOGIN_URI, clients: [CLIENT] });
    workos = sdk(emulator);
  });
  afterAll(() => emulator.close());
  afterEach(() => emulator.clearFaults());

  it('completes a login: redirectUri on the issuer, which sends the browser on with code and state', async () => {
    const externalAuthId = await login(emulator, 'state-1');
    const { redirectUri } = await workos.connect.completeOAuth2({
      externalAuthId,
      user: {
        id: 'legacy-42',
        email: 'ada@example.com',
        firstName: 'Ada',
        lastName: 'Lovelace',
        metadata: { team: 'a' },
      },
    });
    expect(new URL(redirectUri).origin).toBe(emulator.issuer);
    const back = await get(redirectUri);
    expect(back.status).toBe(302);
    const to = new URL(back.location!);
    expect(`${to.origin}${to.pathname}`).toBe(CLIENT.redirectUris[0]);
    expect(to.searchParams.get('state')).toBe('state-1');
    expect(to.searchParams.get('code')).toBeTruthy();

    const byExternal = await workos.userManagement.getUserByExternalId('legacy-42');
    expect(byExternal).toMatchObject({
      externalId: 'legacy-42',
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      metadata: { team: 'a' },
    });
    expect(byExternal.id).toMatch(/^user_01/);
    const byId = await workos.userManagement.getUser(byExternal.id);
    expect(byId.externalId).toBe('legacy-42');
    expect(emulator.completionCalls().at(-1)).toMatchObject({
      externalAuthId,
      userId: 'legacy-42',
      status: 200,
    });
  });

  it('updates the same user on a later login (upsert keyed on the external id)', async () => {
    await workos.connect.completeOAuth2({
      externalAuthId: await login(emulator),
      user: { id: 'legacy-42', email: 'ada.l@example.com', firstName: 'Augusta' },
    });
    const users = emulator.users().filter((u) => u.externalId === 'legacy-42');
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ email: 'ada.l@example.com', firstName: 'Augusta' });
  });

  it('UnauthorizedException for a wrong API key', async () => {
    const err = await caught(
      sdk(emulator, { apiKey: 'sk_test_wrong' }).connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'x', email: 'x@example.com' },
      }),
    );
    expect(err).toBeInstanceOf(UnauthorizedException);
  });

  it('NotFoundException for an unknown or expired external_auth_id', async () => {
    const unknown = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: 'ext_auth_nope',
        user: { id: 'x', email: 'x@example.com' },
      }),
    );
    expect(unknown).toBeInstanceOf(NotFoundException);
    const id = await login(emulator);
    emulator.expireExternalAuth(id);
    const expired = await caught(
      workos.connect.completeOAuth2({ externalAuthId: id, user: { id: 'x', email: 'x@example.com' } }),
    );
    expect(expired).toBeInstanceOf(NotFoundException);
    expect(expired.status).toBe(404);
  });

  it('GenericServerException with code external_auth_session_already_completed on a second completion', async () => {
    const id = await login(emulator);
    await workos.connect.completeOAuth2({ externalAuthId: id, user: { id: 'u-2', email: 'u2@example.com' } });
    const err = await caught(
      workos.connect.completeOAuth2({ externalAuthId: id, user: { id: 'u-2', email: 'u2@example.com' } }),
    );
    expect(err).toBeInstanceOf(GenericServerException);
    expect(err.status).toBe(400);
    expect((err.rawData as Record<string, unknown>).code).toBe('external_auth_session_already_completed');
  });

  it('GenericServerException email_not_available when a new id brings a taken email', async () => {
    const err = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'someone-else', email: 'u2@example.com' },
      }),
    );
    expect(err).toBeInstanceOf(GenericServerException);
    expect((err.rawData as Record<string, unknown>).code).toBe('email_not_available');
  });

  it('GenericServerException invalid_email for a malformed email', async () => {
    const err = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'u-3', email: 'not-an-email' },
      }),
    );
    expect(err).toBeInstanceOf(GenericServerException);
    expect((err.rawData as Record<string, unknown>).code).toBe('invalid_email');
  });

  it('GenericServerException email_change_not_allowed when the environment forbids email changes', async () => {
    const strict = await startEmulator({
      port: 0,
      loginUri: LOGIN_URI,
      clients: [CLIENT],
      allowEmailChange: false,
    });
    try {
      const w = sdk(strict);
      await w.connect.completeOAuth2({
        externalAuthId: await login(strict),
        user: { id: 'k', email: 'k@example.com' },
      });
      const err = await caught(
        w.connect.completeOAuth2({
          externalAuthId: await login(strict),
          user: { id: 'k', email: 'k2@example.com' },
        }),
      );
      expect(err).toBeInstanceOf(GenericServerException);
      expect((err.rawData as Record<string, unknown>).code).toBe('email_change_not_allowed');
    } finally {
      await strict.close();
    }
  });

  it('UnprocessableEntityException for metadata beyond the limits', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    const err = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'm', email: 'm@example.com', metadata },
      }),
    );
    expect(err).toBeInstanceOf(UnprocessableEntityException);
    const long = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'm', email: 'm@example.com', metadata: { k: 'x'.repeat(601) } },
      }),
    );
    expect(long).toBeInstanceOf(UnprocessableEntityException);
  });

  it('a 400 {error, message} (reserved consent claim) arrives as OauthException', async () => {
    const err = await caught(
      workos.connect.completeOAuth2({
        externalAuthId: await login(emulator),
        user: { id: 'r', email: 'r@example.com' },
        userConsentOptions: [
          { claim: 'sub', type: 'enum', label: 'x', choices: [{ value: 'a', label: 'A' }] },
        ],
      }),
    );
    expect(err).toBeInstanceOf(OauthException);
    expect(err.status).toBe(400);
  });

  it('injected faults arrive as ConflictException, RateLimitExceededException and GenericServerException(500)', async () => {
    const id = await login(emulator);
    const user = { id: 'f', email: 'f@example.com' };
    emulator.injectCompletionFault({ status: 409, body: { message: 'conflict' } });
    expect(await caught(workos.connect.completeOAuth2({ externalAuthId: id, user }))).toBeInstanceOf(
      ConflictException,
    );
    emulator.injectCompletionFault({ status: 429, body: { message: 'slow down' } });
    expect(await caught(workos.connect.completeOAuth2({ externalAuthId: id, user }))).toBeInstanceOf(
      RateLimitExceededException,
    );
    emulator.injectCompletionFault({ status: 500 });
    const e500 = await caught(workos.connect.completeOAuth2({ externalAuthId: id, user }));
    expect(e500).toBeInstanceOf(GenericServerException);
    expect(e500.status).toBe(500);
    // Nothing was completed by the faulted calls.
    await expect(workos.connect.completeOAuth2({ externalAuthId: id, user })).resolves.toHaveProperty(
      'redirectUri',
    );
  });

  it('the SDK retries a 500 with the same Idempotency-Key; the emulator records each call', async () => {
    const id = await login(emulator);
    emulator.injectCompletionFault({ status: 500, times: 1 });
    const retrying = sdk(emulator, { maxRetries: 2 });
    await retrying.connect.completeOAuth2({ externalAuthId: id, user: { id: 'g', email: 'g@example.com' } });
    const calls = emulator.completionCalls().filter((c) => c.externalAuthId === id);
    expect(calls.map((c) => c.status)).toEqual([500, 200]);
    expect(calls[0].idempotencyKey).toBeTruthy();
    expect(calls[1].idempotencyKey).toBe(calls[0].idempotencyKey);
  });

  it('a lost answer (completed, then connection reset) makes a retry fail with already_completed', async () => {
    // (The SDK retries network errors itself in plain Node; under Jest's VM realm its
    // `instanceof TypeError` check misses, so the retry is made explicitly here.)
    const id = await login(emulator);
    const user = { id: 'h', email: 'h@example.com' };
    emulator.injectCompletionFault({ resetConnection: true, afterCommit: true });
    const lost = await caught(workos.connect.completeOAuth2({ externalAuthId: id, user }));
    expect(lost).not.toBeInstanceOf(GenericServerException);
    const err = await caught(workos.connect.completeOAuth2({ externalAuthId: id, user }));
    expect(err).toBeInstanceOf(GenericServerException);
    expect((err.rawData as Record<string, unknown>).code).toBe('external_auth_session_already_completed');
    const calls = emulator.completionCalls().filter((c) => c.externalAuthId === id);
    expect(calls.map((c) => c.status)).toEqual([200, 400]);
    expect(calls[0]).toMatchObject({ faulted: 'connection reset' });
  });

  it('a slow answer: delayMs holds the response', async () => {
    const id = await login(emulator);
    emulator.injectCompletionFault({ delayMs: 300 });
    const started = Date.now();
    await workos.connect.completeOAuth2({ externalAuthId: id, user: { id: 'i', email: 'i@example.com' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  describe('sessions', () => {
    let n = 0;
    /** A whole authorization for a fresh user: its tokens' `sub` and `sid`. */
    const authorize = (e: RunningEmulator = emulator, user?: { id: string; email: string }) => {
      n += 1;
      return signIn(e, CLIENT, user ?? { id: `sess-${n}`, email: `sess-${n}@example.com` });
    };

    it("listSessions shows the session of a full authorization, with the tokens' sid", async () => {
      const before = Date.now();
      const t = await authorize();
      expect(t.sid).toMatch(/^session_01/);
      const list = await workos.userManagement.listSessions(t.userId);
      expect(list.data).toHaveLength(1);
      const [session] = list.data;
      expect(session).toEqual({
        object: 'session',
        id: t.sid,
        userId: t.userId,
        ipAddress: '127.0.0.1',
        userAgent: expect.any(String),
        authMethod: 'external_auth',
        status: 'active',
        expiresAt: expect.any(String),
        endedAt: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const created = Date.parse(session.createdAt);
      expect(created).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(session.expiresAt) - created).toBe(30 * 24 * 3600 * 1000);
      expect(list.listMetadata).toEqual({ before: null, after: null });
      expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({
        userId: t.userId,
        clientId: CLIENT.clientId,
        status: 'active',
        endedAt: null,
      });
      // A refresh keeps the session (same sid) and does not add one.
      const r = await refresh(emulator, CLIENT.clientId, t.refreshToken);
      expect(r.status).toBe(200);
      expect(await workos.userManagement.listSessions(t.userId).then((l) => l.data.map((s) => s.id))).toEqual(
        [t.sid],
      );
    });

    it('lists newest first, pages with limit/after/before, and autoPagination terminates', async () => {
      const user = { id: 'sess-many', email: 'sess-many@example.com' };
      const sids: string[] = [];
      for (let i = 0; i < 3; i++) sids.push((await authorize(emulator, user)).sid);
      const userId = emulator.users().find((u) => u.externalId === 'sess-many')!.id;
      const newestFirst = [...sids].reverse();

      const first = await workos.userManagement.listSessions(userId, { limit: 2 });
      expect(first.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 2));
      expect(first.listMetadata).toEqual({ before: null, after: newestFirst[1] });
      const second = await workos.userManagement.listSessions(userId, { limit: 2, after: newestFirst[1] });
      expect(second.data.map((s) => s.id)).toEqual([newestFirst[2]]);
      expect(second.listMetadata).toEqual({ before: newestFirst[2], after: null });
      const back = await workos.userManagement.listSessions(userId, { limit: 2, before: newestFirst[2] });
      expect(back.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 2));
      const asc = await workos.userManagement.listSessions(userId, { order: 'asc' });
      expect(asc.data.map((s) => s.id)).toEqual(sids);

      const all = await (await workos.userManagement.listSessions(userId)).autoPagination();
      expect(all.map((s) => s.id)).toEqual(newestFirst);
      // With a limit, autoPagination returns the first page only (the SDK's rule).
      expect(
        await (await workos.userManagement.listSessions(userId, { limit: 1 })).autoPagination(),
      ).toHaveLength(1);
    });

    it('NotFoundException when listing the sessions of an unknown user', async () => {
      expect(await caught(workos.userManagement.listSessions('user_nope'))).toBeInstanceOf(NotFoundException);
    });

    it('revokeSession ends the session and its refresh tokens fail with invalid_grant', async () => {
      const t = await authorize();
      const other = await authorize(); // another user's session is untouched
      const rotated = await refresh(emulator, CLIENT.clientId, t.refreshToken);
      expect(rotated.status).toBe(200);
      await expect(workos.userManagement.revokeSession({ sessionId: t.sid })).resolves.toBeUndefined();

      const [session] = (await workos.userManagement.listSessions(t.userId)).data;
      expect(session).toMatchObject({ id: t.sid, status: 'revoked' });
      expect(Date.parse(session.endedAt!)).toBeLessThanOrEqual(Date.now());
      expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({ status: 'revoked' });

      const r = await refresh(emulator, CLIENT.clientId, rotated.body.refresh_token as string);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
      expect((await refresh(emulator, CLIENT.clientId, other.refreshToken)).status).toBe(200);
      // Revoking again is harmless.
      await expect(workos.userManagement.revokeSession({ sessionId: t.sid })).resolves.toBeUndefined();
    });

    it('NotFoundException for an unknown session id; UnprocessableEntityException without one', async () => {
      const err = await caught(workos.userManagement.revokeSession({ sessionId: 'session_nope' }));
      expect(err).toBeInstanceOf(NotFoundException);
      expect(err.code).toBe('entity_not_found');
      expect(
        await caught(workos.userManagement.revokeSession({ sessionId: '' as unknown as string })),
      ).toBeInstanceOf(UnprocessableEntityException);
    });

    it("setSessionRevocation('fails'): GenericServerException(500), nothing ends", async () => {
      const t = await authorize();
      emulator.setSessionRevocation('fails');
      const err = await caught(workos.userManagement.revokeSession({ sessionId: t.sid }));
      expect(err).toBeInstanceOf(GenericServerException);
      expect(err.status).toBe(500);
      expect((await workos.userManagement.listSessions(t.userId)).data[0].status).toBe('active');
      expect((await refresh(emulator, CLIENT.clientId, t.refreshToken)).status).toBe(200);
      // clearFaults (afterEach) sets it back to 'works'.
      emulator.clearFaults();
      await workos.userManagement.revokeSession({ sessionId: t.sid });
      expect((await workos.userManagement.listSessions(t.userId)).data[0].status).toBe('revoked');
    });

    it("setSessionRevocation('ignored'): answers success, but the session and its refresh tokens live on", async () => {
      const t = await authorize();
      emulator.setSessionRevocation('ignored');
      await expect(workos.userManagement.revokeSession({ sessionId: t.sid })).resolves.toBeUndefined();
      expect((await workos.userManagement.listSessions(t.userId)).data[0]).toMatchObject({
        status: 'active',
        endedAt: null,
      });
      expect((await refresh(emulator, CLIENT.clientId, t.refreshToken)).status).toBe(200);
      // Unknown sessions are still 404.
      expect(await caught(workos.userManagement.revokeSession({ sessionId: 'session_nope' }))).toBeInstanceOf(
        NotFoundException,
      );
    });

    it('the test-control routes: POST /__emulator/faults/session-revocation and GET /__emulator/sessions', async () => {
      const e = await startEmulator({
        port: 0,
        loginUri: LOGIN_URI,
        clients: [CLIENT],
        enableTestControl: true,
      });
      try {
        const w = sdk(e);
        const t = await authorize(e);
        const control = (method: string, path: string, body?: unknown) =>
          fetch(`${e.url}/__emulator${path}`, {
            method,
            headers: { authorization: `Bearer ${e.apiKey}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        expect((await control('POST', '/faults/session-revocation', { mode: 'sometimes' })).status).toBe(400);
        expect((await control('POST', '/faults/session-revocation', { mode: 'fails' })).status).toBe(204);
        expect(await caught(w.userManagement.revokeSession({ sessionId: t.sid }))).toBeInstanceOf(
          GenericServerException,
        );
        expect((await control('DELETE', '/faults')).status).toBe(204);
        await w.userManagement.revokeSession({ sessionId: t.sid });
        const sessions = (await (await control('GET', '/sessions')).json()) as Array<Record<string, unknown>>;
        expect(sessions).toEqual([
          expect.objectContaining({
            object: 'session',
            id: t.sid,
            user_id: t.userId,
            client_id: CLIENT.clientId,
            status: 'revoked',
          }),
        ]);
      } finally {
        await e.close();
      }
    });
  });

  it('NotFoundException for unknown users', async () => {
    expect(await caught(workos.userManagement.getUser('user_nope'))).toBeInstanceOf(NotFoundException);
    expect(await caught(workos.userManagement.getUserByExternalId('nobody'))).toBeInstanceOf(
      NotFoundException,
    );
  });
});
