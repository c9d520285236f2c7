import { createHash, randomBytes } from 'node:crypto';
import type { RunningEmulator } from '../../emulator';

export interface LegacyUser {
  id: string;
  email: string;
  first_name?: string;
  last_name?: string;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function follow(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location)
    throw new Error(`expected a redirect from ${url}, got ${res.status}: ${await res.text()}`);
  return location;
}

/**
 * What a browser and the login bridge do between AuthKit's authorize URL and the client's
 * redirect URI: follow authorize to the Login URI, complete the login for `user` through the
 * WorkOS completion API (as the login bridge would), follow AuthKit back to the client.
 * Returns the authorization code.
 */
export async function completeInBrowser(
  emulator: RunningEmulator,
  authorizationUrl: string | URL,
  user: LegacyUser,
): Promise<{ code: string; state: string | null; scope: string | null; resource: string | null }> {
  const requested = new URL(authorizationUrl);
  const login = new URL(await follow(String(authorizationUrl)));
  const externalAuthId = login.searchParams.get('external_auth_id');
  if (!externalAuthId) throw new Error(`no external_auth_id in ${login}`);
  const done = await fetch(`${emulator.url}/authkit/oauth2/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${emulator.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ external_auth_id: externalAuthId, user }),
  });
  const body = (await done.json()) as { redirect_uri?: string };
  if (done.status !== 200 || !body.redirect_uri)
    throw new Error(`completion failed: ${JSON.stringify(body)}`);
  const back = new URL(await follow(body.redirect_uri));
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${back}`);
  return {
    code,
    state: back.searchParams.get('state'),
    scope: requested.searchParams.get('scope'),
    resource: requested.searchParams.get('resource'),
  };
}

/** A whole authorization-code + PKCE flow for a pre-registered public client: the access token. */
export async function signIn(
  emulator: RunningEmulator,
  options: { clientId: string; redirectUri: string; scope: string; resource: string; user: LegacyUser },
): Promise<string> {
  const { verifier, challenge } = pkce();
  const authorize = new URL(`${emulator.url}/oauth2/authorize`);
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    scope: options.scope,
    resource: options.resource,
  }).toString();
  const { code } = await completeInBrowser(emulator, authorize, options.user);
  const res = await fetch(`${emulator.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri,
      client_id: options.clientId,
      code_verifier: verifier,
      resource: options.resource,
    }),
  });
  const tokens = (await res.json()) as { access_token?: string };
  if (!tokens.access_token) throw new Error(`token exchange failed: ${JSON.stringify(tokens)}`);
  return tokens.access_token;
}
