// The world every bench program starts from: the AuthKit emulator, a login bridge (local strategy,
// PGlite), the bench user signed in once through the real flow (so AuthKit knows the user with its
// legacy id, as after a real sign-in), and an access token of that user's one grant.
import { startChild, type Child } from './child';
import { AUDIENCE, BENCH_USER, CLIENT_ID, CLIENT_REDIRECT, freePort } from './env';
import { loginFlow, startLoginBridge, type Emulator } from '../scenarios/login';

/** One grant (one AuthKit session, `sid`) for every token, as refreshes of one authorization are. */
export const BENCH_SID = 'session_bench';

export interface BenchWorld {
  emulatorChild: Child<Emulator>;
  emulator: Emulator;
  loginPort: number;
  loginBridge: Child<{ url: string; localUserId: string }>;
  workosUser: { id: string; externalId: string; email: string };
  /** The bench user's access token (6 hours). */
  token: string;
  /** The claims every bench token carries (sub, aud, email, sid). */
  claims: Record<string, string>;
}

export async function startWorld(keep: <I>(c: Child<I>) => Child<I>): Promise<BenchWorld> {
  const loginPort = await freePort();
  const emulatorChild = keep(
    await startChild<Emulator>('emulator', 'emulator', {
      loginUri: `http://127.0.0.1:${loginPort}/auth/login`,
      clients: [{ clientId: CLIENT_ID, redirectUris: [CLIENT_REDIRECT] }],
    }),
  );
  const emulator = emulatorChild.info;
  const loginBridge = keep(await startLoginBridge('bridge (login, PGlite)', loginPort, emulator));
  await loginFlow(emulator.url);
  const users = await emulatorChild.call<Array<{ id: string; externalId: string; email: string }>>('users');
  const workosUser = users.find((u) => u.externalId === loginBridge.info.localUserId);
  if (!workosUser) throw new Error('the seed sign-in did not create the AuthKit user');
  const claims = { sub: workosUser.id, aud: AUDIENCE, email: BENCH_USER.email, sid: BENCH_SID };
  const token = await emulatorChild.call<string>('mint', [claims, { expiresInSeconds: 6 * 3600 }]);
  return { emulatorChild, emulator, loginPort, loginBridge, workosUser, token, claims };
}
