/**
 * The official MCP SDK clients (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`)
 * running their whole OAuth flow against the bridge, with a scripted person at the browser:
 * whatever sign-in page they land on (the bridge's form, "Continue as", "An AI application is
 * asking to connect", the legacy app's login, AuthKit's consent page) they fill in, until AuthKit sends the browser back to the client's redirect URI with a code.
 */
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError as V1UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
  UnauthorizedError as V2UnauthorizedError,
} from '@modelcontextprotocol/client';
import { MemoryOAuthProvider, type MemoryOAuthProviderOptions } from '../helpers/oauth-client-provider';
import { Browser, pageText, type Page } from '../login/browser';

export type Sdk = 'v1' | 'v2';

export interface Credentials {
  email: string;
  password: string;
}

/**
 * What a person does on the page the browser landed on: the bridge's own sign-in form, the
 * bridge's "Continue as" step, its "An AI application is asking to connect" step (Continue, then
 * the page after it), or the legacy app's login form; then AuthKit's consent page when it asks
 * (e.g. which workspace: Allow, with the choices as they stand). A page with status 0 is the
 * client's redirect URI (Browser.go stopped there): nothing to do.
 */
export async function signInOnPage(
  browser: Browser,
  page: Page,
  who: Credentials,
  stop: (url: string) => boolean,
): Promise<Page> {
  const consented = async (next: Page): Promise<Page> =>
    next.status !== 0 && next.html.includes('action="/oauth2/consent"')
      ? browser.submit(next, '/oauth2/consent', { decision: 'allow' }, stop)
      : next;
  if (page.status === 0) return page;
  if (page.html.includes('action="/auth/login/local"'))
    return consented(
      await browser.submit(page, '/auth/login/local', { email: who.email, password: who.password }, stop),
    );
  if (page.html.includes('action="/auth/login/confirm"'))
    return consented(await browser.submit(page, '/auth/login/confirm', { action: 'continue' }, stop));
  if (page.html.includes('action="/auth/login/connect"')) {
    const next = await browser.submit(page, '/auth/login/connect', { action: 'continue' }, stop);
    if (next.html.includes('action="/auth/login/connect"'))
      throw new Error(`Continue led back to ${next.url}`);
    return signInOnPage(browser, next, who, stop);
  }
  if (page.html.includes('action="/login"'))
    return consented(
      await browser.submit(page, '/login', { email: who.email, password: who.password }, stop),
    );
  if (page.html.includes('action="/oauth2/consent"')) return consented(page);
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

/**
 * A MemoryOAuthProvider whose user agent is a scripted Browser (cookie jar included, so a second
 * authorization meets "Continue as") that signs in as `who`.
 */
export class BrowserOAuthProvider extends MemoryOAuthProvider {
  readonly browser: Browser;

  constructor({ who, ...options }: Omit<MemoryOAuthProviderOptions, 'authorize'> & { who: Credentials }) {
    const browser = new Browser();
    const stop = (u: string) => u.startsWith(options.redirectUrl);
    super({
      ...options,
      authorize: async (url) => {
        const landed = await browser.go(url.toString(), {}, stop);
        const end = await signInOnPage(browser, landed, who, stop);
        if (!stop(end.url))
          throw new Error(`the flow ended on ${end.url} (${end.status}): ${pageText(end.html)}`);
        const back = new URL(end.url).searchParams;
        return { code: back.get('code'), state: back.get('state') };
      },
    });
    this.browser = browser;
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
