/**
 * The official MCP SDK clients (v1 `@modelcontextprotocol/sdk` and v2 `@modelcontextprotocol/client`)
 * run their whole OAuth flow against the emulator alone: discovery → registration (DCR or CIMD)
 * → PKCE authorize → (a scripted completion through @workos-inc/node) → token → refresh.
 */
import { auth as authV2 } from '@modelcontextprotocol/client';
import { auth as authV1 } from '@modelcontextprotocol/sdk/client/auth.js';
import { WorkOS } from '@workos-inc/node';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { MemoryOAuthProvider } from '../helpers/oauth-client-provider';
import { get, LOGIN_URI } from './helpers';

const REDIRECT = 'http://127.0.0.1:33418/callback';
const CIMD_URL = 'https://client.example.com/mcp/client-metadata.json';
const RESOURCE = 'https://bridge.example.com/mcp';

/** The test client: dynamic registration, or (`cimd`) a Client ID Metadata Document. */
const memoryProvider = (opts: { cimd?: boolean; resource?: string } = {}) =>
  new MemoryOAuthProvider({
    name: 'emulator test client',
    redirectUrl: REDIRECT,
    scope: 'openid profile email',
    clientMetadataUrl: opts.cimd ? CIMD_URL : undefined,
    resource: opts.resource,
  });

type AuthFn = (
  provider: never,
  options: { serverUrl: string; authorizationCode?: string; scope?: string },
) => Promise<string>;

/** The browser and the login page: follow the authorization URL to the code. */
async function walkBrowser(authorizationUrl: URL, workos: WorkOS) {
  const toLogin = await get(authorizationUrl.toString());
  expect(toLogin.status).toBe(302);
  const externalAuthId = new URL(toLogin.location!).searchParams.get('external_auth_id')!;
  const { redirectUri } = await workos.connect.completeOAuth2({
    externalAuthId,
    user: { id: 'legacy-7', email: 'mcp-user@example.com', firstName: 'Mia' },
  });
  const back = await get(redirectUri);
  expect(back.status).toBe(302);
  const cb = new URL(back.location!);
  expect(`${cb.origin}${cb.pathname}`).toBe(REDIRECT);
  return { code: cb.searchParams.get('code')!, state: cb.searchParams.get('state') };
}

describe.each([
  ['v1 @modelcontextprotocol/sdk', authV1 as unknown as AuthFn, 'openid profile email offline_access'],
  // v2 adds offline_access itself when the server supports it and the client can refresh.
  ['v2 @modelcontextprotocol/client', authV2 as unknown as AuthFn, undefined],
])('MCP SDK client %s against the emulator', (_name, auth, scope) => {
  let emulator: RunningEmulator;
  let workos: WorkOS;
  const cimdFetches: string[] = [];
  beforeAll(async () => {
    emulator = await startEmulator({
      port: 0,
      loginUri: LOGIN_URI,
      fetch: (async (url: string) => {
        cimdFetches.push(String(url));
        return new Response(
          JSON.stringify({
            client_id: url,
            client_name: 'CIMD MCP client',
            redirect_uris: [REDIRECT],
            grant_types: ['authorization_code', 'refresh_token'],
            token_endpoint_auth_method: 'none',
          }),
          { headers: { 'content-type': 'application/json' } },
        );
      }) as typeof fetch,
    });
    workos = new WorkOS(emulator.apiKey, { apiHostname: '127.0.0.1', port: emulator.port, https: false });
  });
  afterAll(() => emulator.close());

  async function fullFlow(provider: MemoryOAuthProvider) {
    const serverUrl = `${emulator.url}/mcp`;
    expect(await auth(provider as never, { serverUrl, scope })).toBe('REDIRECT');
    const url = provider.authorizations.at(-1)!;
    expect(url.origin + url.pathname).toBe(`${emulator.issuer}/oauth2/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const { code, state } = await walkBrowser(url, workos);
    expect(state).toBe(provider.stateValue);
    expect(await auth(provider as never, { serverUrl, authorizationCode: code, scope })).toBe('AUTHORIZED');
    const first = provider.savedTokens as { access_token: string; refresh_token?: string; scope?: string };
    expect(first.refresh_token).toBeTruthy();
    expect(first.scope?.split(' ')).toContain('offline_access');

    // A later run with stored tokens refreshes (and the refresh token rotates).
    expect(await auth(provider as never, { serverUrl, scope })).toBe('AUTHORIZED');
    const second = provider.savedTokens as { access_token: string; refresh_token?: string };
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const jwks = createLocalJWKSet(emulator.jwks() as never);
    const { payload } = await jwtVerify(second.access_token, jwks, { issuer: emulator.issuer });
    return payload;
  }

  it('discovery → dynamic registration → PKCE authorize → completion → token → refresh', async () => {
    const provider = memoryProvider();
    const payload = await fullFlow(provider);
    const clientId = (provider.clientInfo as { client_id: string }).client_id;
    expect(clientId).toMatch(/^client_01/);
    expect(payload).toMatchObject({ client_id: clientId, aud: emulator.clientId });
    expect(payload.sub).toBe(emulator.users().find((u) => u.externalId === 'legacy-7')!.id);
  });

  it('sends the resource indicator and gets it back as aud', async () => {
    const payload = await fullFlow(memoryProvider({ resource: RESOURCE }));
    expect(payload.aud).toBe(RESOURCE);
  });

  it('uses a Client ID Metadata Document instead of registering', async () => {
    const provider = memoryProvider({ cimd: true });
    const payload = await fullFlow(provider);
    expect((provider.clientInfo as { client_id: string }).client_id).toBe(CIMD_URL);
    expect(payload.client_id).toBe(CIMD_URL);
    expect(cimdFetches).toContain(CIMD_URL);
  });
});
