import { createHash, randomBytes } from 'node:crypto';
import type { RunningEmulator } from '../../emulator';

export const LOGIN_URI = 'http://127.0.0.1:9/auth/login';

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** GET without following redirects; returns status, Location and body text. */
export async function get(url: string): Promise<{ status: number; location?: string; text: string }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') ?? undefined, text: await res.text() };
}

export async function postForm(
  url: string,
  form: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
    redirect: 'manual',
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export async function complete(
  emulator: RunningEmulator,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emulator.url}/authkit/oauth2/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${emulator.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface AuthorizeParams {
  client_id: string;
  redirect_uri?: string;
  response_type?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  state?: string;
  scope?: string;
  resource?: string;
  [k: string]: string | undefined;
}

export function authorizeUrl(emulator: RunningEmulator, params: AuthorizeParams): string {
  const u = new URL(`${emulator.url}/oauth2/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** authorize → Login URI: returns the external_auth_id. */
export async function startLogin(emulator: RunningEmulator, params: AuthorizeParams): Promise<string> {
  const res = await get(authorizeUrl(emulator, params));
  if (res.status !== 302 || !res.location?.startsWith(LOGIN_URI))
    throw new Error(`authorize did not go to the Login URI: ${res.status} ${res.location} ${res.text}`);
  return new URL(res.location).searchParams.get('external_auth_id')!;
}

/** The whole browser side: authorize → (login) completion → consent redirect → code. */
export async function authorizeCode(
  emulator: RunningEmulator,
  params: AuthorizeParams,
  user = { id: 'legacy-1', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace' },
): Promise<{ code: string; state: string | null; externalAuthId: string }> {
  const externalAuthId = await startLogin(emulator, params);
  const done = await complete(emulator, { external_auth_id: externalAuthId, user });
  if (done.status !== 200) throw new Error(`completion failed: ${JSON.stringify(done.body)}`);
  const back = await get(done.body.redirect_uri as string);
  const u = new URL(back.location!);
  return { code: u.searchParams.get('code')!, state: u.searchParams.get('state'), externalAuthId };
}
