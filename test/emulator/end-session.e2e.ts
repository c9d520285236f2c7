import { Logger } from '@nestjs/common';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { WorkOSAuthKitClient } from '../../src/authkit/authkit-client';
import type { AppConfig } from '../../src/config/app-config';
import { LOGIN_URI } from './helpers';
import { refresh, signIn } from './session-helpers';

const CLIENT = { clientId: 'end_session_client', redirectUris: ['http://127.0.0.1:33418/callback'] };

/** The bridge's WorkOS client, pointed at the emulator. */
const bridgeClient = (e: RunningEmulator, apiKey = e.apiKey) =>
  new WorkOSAuthKitClient({
    workos: { apiKey, clientId: e.clientId, apiUrl: e.url, authkitDomain: e.issuer },
    login: { completeTimeoutMs: 2000 },
  } as AppConfig);

describe('WorkOSAuthKitClient.endSession against the AuthKit emulator', () => {
  let emulator: RunningEmulator;
  let client: WorkOSAuthKitClient;
  const lines: string[] = [];
  let n = 0;
  const authorize = () => {
    n += 1;
    return signIn(emulator, CLIENT, { id: `end-${n}`, email: `end-${n}@example.com` });
  };

  beforeAll(async () => {
    emulator = await startEmulator({
      port: 0,
      loginUri: LOGIN_URI,
      clients: [CLIENT],
      log: (line) => lines.push(line),
    });
    client = bridgeClient(emulator);
  });
  afterAll(() => emulator.close());
  afterEach(() => {
    emulator.clearFaults();
    jest.restoreAllMocks();
  });

  it("'revoked': the session ends and its refresh token fails", async () => {
    const t = await authorize();
    const other = await authorize();
    await expect(client.endSession(t.userId, t.sid)).resolves.toBe('revoked');
    expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({ status: 'revoked' });
    expect(emulator.sessions().find((s) => s.id === other.sid)).toMatchObject({ status: 'active' });
    const r = await refresh(emulator, CLIENT.clientId, t.refreshToken);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
  });

  it("'not_found': an unknown session, a session of another user, one already ended, an unknown user", async () => {
    const t = await authorize();
    const other = await authorize();
    await expect(client.endSession(t.userId, 'session_01NOPE')).resolves.toBe('not_found');
    await expect(client.endSession(t.userId, other.sid)).resolves.toBe('not_found');
    expect(emulator.sessions().find((s) => s.id === other.sid)).toMatchObject({ status: 'active' });
    await expect(client.endSession(t.userId, t.sid)).resolves.toBe('revoked');
    await expect(client.endSession(t.userId, t.sid)).resolves.toBe('not_found');
    await expect(client.endSession('user_01NOPE', t.sid)).resolves.toBe('not_found');
  });

  it("'failed' when the emulator's session revocation fails (after one retry); nothing ends", async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const t = await authorize();
    emulator.setSessionRevocation('fails');
    lines.length = 0;
    await expect(client.endSession(t.userId, t.sid)).resolves.toBe('failed');
    expect(lines.filter((l) => l.startsWith('POST /user_management/sessions/revoke 500'))).toHaveLength(2);
    expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({ status: 'active' });
    expect((await refresh(emulator, CLIENT.clientId, t.refreshToken)).status).toBe(200);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).not.toContain(emulator.apiKey);
  });

  it("'failed' for a wrong API key, and when WorkOS cannot be reached; never rejects", async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const t = await authorize();
    await expect(bridgeClient(emulator, 'sk_test_wrong').endSession(t.userId, t.sid)).resolves.toBe('failed');
    const closed = await startEmulator({ port: 0, loginUri: LOGIN_URI });
    const unreachable = bridgeClient(closed);
    await closed.close();
    await expect(unreachable.endSession(t.userId, t.sid)).resolves.toBe('failed');
    expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({ status: 'active' });
  });

  it("'revoked' also when AuthKit ignores the revocation (the emulator's 'ignored' mode)", async () => {
    const t = await authorize();
    emulator.setSessionRevocation('ignored');
    await expect(client.endSession(t.userId, t.sid)).resolves.toBe('revoked');
    // The bridge cannot tell: the session and its refresh token live on.
    expect(emulator.sessions().find((s) => s.id === t.sid)).toMatchObject({ status: 'active' });
    expect((await refresh(emulator, CLIENT.clientId, t.refreshToken)).status).toBe(200);
  });
});
