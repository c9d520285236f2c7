/**
 * The official MCP SDK clients (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`)
 * running their whole OAuth flow against the bridge, with a scripted person at the browser:
 * whatever sign-in page they land on (the bridge's form, "Continue as", the legacy app's login)
 * they fill in, until AuthKit sends the browser back to the client's redirect URI with a code.
 */
import { randomBytes } from 'node:crypto';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError as V1UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
  UnauthorizedError as V2UnauthorizedError,
} from '@modelcontextprotocol/client';
import { Browser, pageText, type Page } from '../login/browser';

export type Sdk = 'v1' | 'v2';

export interface Credentials {
  email: string;
  password: string;
}

/**
 * What a person does on the page the browser landed on: the bridge's own sign-in form, the
 * bridge's "Continue as" step, or the legacy app's login form. A page with status 0 is the
 * client's redirect URI (Browser.go stopped there): nothing to do.
 */
export async function signInOnPage(
  browser: Browser,
  page: Page,
  who: Credentials,
  stop: (url: string) => boolean,
): Promise<Page> {
  if (page.status === 0) return page;
  if (page.html.includes('action="/auth/login/local"'))
    return browser.submit(page, '/auth/login/local', { email: who.email, password: who.password }, stop);
  if (page.html.includes('action="/auth/login/confirm"'))
    return browser.submit(page, '/auth/login/confirm', { action: 'continue' }, stop);
  if (page.html.includes('action="/login"'))
    return browser.submit(page, '/login', { email: who.email, password: who.password }, stop);
  throw new Error(`no sign-in step on ${page.url} (${page.status}): ${pageText(page.html).slice(0, 500)}`);
}

/** One HTTP exchange the SDK made (through the transport's fetch). */
export interface Exchange {
  method: string;
  url: string;
  status: number;
  /** For token requests: the grant type. */
  grant?: string;
}

type Stored = Record<string, unknown> | undefined;

/**
 * An OAuthClientProvider, structurally valid for both SDK generations, whose user agent is a
 * scripted Browser (cookie jar included, so a second authorization meets "Continue as").
 */
export class BrowserOAuthProvider {
  readonly browser = new Browser();
  readonly authorizations: URL[] = [];
  /** The code of the last authorization, for transport.finishAuth(). */
  code?: string;
  clientInfo: Stored;
  saved: Stored;
  tokenSaves = 0;
  private verifier = '';
  private discovery: Stored;
  private stateValue = '';
  readonly clientMetadataUrl?: string;

  constructor(
    private readonly options: {
      name: string;
      redirectUrl: string;
      who: Credentials;
      /** Use a Client ID Metadata Document at this https URL instead of dynamic registration. */
      clientMetadataUrl?: string;
      /**
       * Add `offline_access` to the authorization request. The v1 SDK (1.32) asks for exactly the
       * scopes of the 401 challenge, which (per the MCP spec) never names offline_access, so it
       * gets no refresh token; an application built on v1 that wants to stay signed in adds it.
       */
      addOfflineAccess?: boolean;
    },
  ) {
    this.clientMetadataUrl = options.clientMetadataUrl;
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: this.options.name,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  /** The document a CIMD client publishes at its clientMetadataUrl. */
  metadataDocument() {
    return { client_id: this.clientMetadataUrl, ...this.clientMetadata };
  }
  state() {
    this.stateValue = randomBytes(12).toString('base64url');
    return this.stateValue;
  }
  clientInformation() {
    return this.clientInfo as never;
  }
  saveClientInformation(info: Stored) {
    this.clientInfo = info;
  }
  tokens() {
    return this.saved as never;
  }
  saveTokens(tokens: Stored) {
    this.saved = tokens;
    this.tokenSaves++;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: Stored) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
  get accessToken(): string | undefined {
    return this.saved?.access_token as string | undefined;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations.push(new URL(url));
    const target = new URL(url);
    const scope = target.searchParams.get('scope')?.split(' ') ?? [];
    if (this.options.addOfflineAccess && !scope.includes('offline_access'))
      target.searchParams.set('scope', [...scope, 'offline_access'].join(' '));
    const stop = (u: string) => u.startsWith(this.options.redirectUrl);
    const landed = await this.browser.go(target.toString(), {}, stop);
    const end = await signInOnPage(this.browser, landed, this.options.who, stop);
    if (!stop(end.url))
      throw new Error(`the flow ended on ${end.url} (${end.status}): ${pageText(end.html)}`);
    const back = new URL(end.url);
    if (back.searchParams.get('state') !== this.stateValue) throw new Error(`state mismatch in ${end.url}`);
    const code = back.searchParams.get('code');
    if (!code) throw new Error(`no code in ${end.url}`);
    this.code = code;
  }
}

/** The part of both SDKs' Client these suites use. */
export interface McpClient {
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  close(): Promise<void>;
}

/** A fetch that records what the SDK asked for (method, URL, status, token grant). */
export function recordingFetch(log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const body = init?.body;
    const grant = body instanceof URLSearchParams ? (body.get('grant_type') ?? undefined) : undefined;
    const res = await fetch(input, init);
    log.push({ method, url, status: res.status, ...(grant && { grant }) });
    return res;
  };
}

/**
 * Connects an SDK client to `mcpUrl` the way an application does: the first attempt meets the
 * 401 and runs discovery, registration and the browser authorization; the app then calls
 * finishAuth(code) and connects again. (With tokens stored already, the first attempt succeeds.)
 */
export async function connectClient(
  sdk: Sdk,
  mcpUrl: string,
  provider: BrowserOAuthProvider,
  log: Exchange[] = [],
): Promise<McpClient> {
  const fetchFn = recordingFetch(log);
  const transport = () =>
    sdk === 'v1'
      ? new V1Transport(new URL(mcpUrl), { authProvider: provider as never, fetch: fetchFn })
      : new V2Transport(new URL(mcpUrl), { authProvider: provider as never, fetch: fetchFn });
  const client = () =>
    sdk === 'v1'
      ? new V1Client({ name: `e2e-${sdk}`, version: '1.0.0' })
      : new V2Client({ name: `e2e-${sdk}`, version: '1.0.0' });
  const first = transport();
  const c = client();
  try {
    await c.connect(first as never);
    return c as unknown as McpClient;
  } catch (err) {
    if (!(err instanceof V1UnauthorizedError || err instanceof V2UnauthorizedError)) throw err;
  }
  if (!provider.code) throw new Error('the client was refused but no authorization happened');
  await first.finishAuth(provider.code);
  const again = client();
  await again.connect(transport() as never);
  return again as unknown as McpClient;
}

/** The parsed JSON answer of the `whoami` tool. */
export async function whoami(client: McpClient): Promise<Record<string, unknown>> {
  const result = (await client.callTool({ name: 'whoami', arguments: {} })) as {
    content: Array<{ type: string; text: string }>;
    isError?: boolean;
  };
  if (result.isError) throw new Error(`whoami failed: ${result.content[0]?.text}`);
  return JSON.parse(result.content[0].text) as Record<string, unknown>;
}

/** Waits until every given JWT's `exp` plus `slackSeconds` (the bridge's clock tolerance) is past. */
export async function waitForExpiry(tokens: string[], slackSeconds: number): Promise<void> {
  const exp = Math.max(
    ...tokens.map(
      (t) => (JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()) as { exp: number }).exp,
    ),
  );
  const ms = (exp + slackSeconds) * 1000 - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The emulator's `fetch` for Client ID Metadata Documents: serves the documents of these clients. */
export function clientWebsites(providers: () => BrowserOAuthProvider[]): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = input instanceof Request ? input.url : String(input);
    const provider = providers().find((p) => p.clientMetadataUrl === url);
    if (!provider) return new Response('not found', { status: 404 });
    return new Response(JSON.stringify(provider.metadataDocument()), {
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;
}
