import { decodeJwt } from 'jose';
import type { RunningEmulator } from '../../emulator';
import { authorizeCode, pkce, postForm } from './helpers';

export interface SignedIn {
  /** The WorkOS user id (`sub`). */
  userId: string;
  /** The AuthKit session id (`sid`). */
  sid: string;
  accessToken: string;
  refreshToken: string;
}

/** A whole authorization with offline_access: authorize → completion → code → tokens. */
export async function signIn(
  emulator: RunningEmulator,
  client: { clientId: string; redirectUris: string[] },
  user: { id: string; email: string },
): Promise<SignedIn> {
  const { verifier, challenge } = pkce();
  const { code } = await authorizeCode(
    emulator,
    {
      client_id: client.clientId,
      redirect_uri: client.redirectUris[0],
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid profile email offline_access',
    },
    { first_name: 'Session', last_name: 'Tester', ...user },
  );
  const tok = await postForm(`${emulator.url}/oauth2/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirectUris[0],
    client_id: client.clientId,
    code_verifier: verifier,
  });
  if (tok.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(tok.body)}`);
  const claims = decodeJwt(tok.body.access_token as string);
  return {
    userId: claims.sub!,
    sid: claims.sid as string,
    accessToken: tok.body.access_token as string,
    refreshToken: tok.body.refresh_token as string,
  };
}

/** The refresh grant: status and body. */
export const refresh = (
  emulator: RunningEmulator,
  clientId: string,
  refreshToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> =>
  postForm(`${emulator.url}/oauth2/token`, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
  });
