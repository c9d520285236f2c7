/**
 * The demo's SDK client: `node dist/src/demo/mcp-client.js [MCP URL]` (default
 * http://localhost:3000/mcp). An MCP client built on the official TypeScript SDK (v1) that runs the
 * whole OAuth flow: the 401, discovery, dynamic registration, a sign-in link to open in a browser
 * (its callback listens on 127.0.0.1), the token, then `whoami`. A starting point for your own agent.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { escapeHtml, renderPage } from '../common/html';

const SIGN_IN_TIMEOUT_MS = 5 * 60_000;

async function main(): Promise<void> {
  const mcpUrl = new URL(process.argv[2] ?? 'http://localhost:3000/mcp');

  // Where the browser comes back with the code: a one-page server on loopback.
  let resolveCode!: (code: string) => void;
  let rejectCode!: (err: Error) => void;
  const codeArrived = new Promise<string>((resolve, reject) => {
    resolveCode = resolve;
    rejectCode = reject;
  });
  let expectedState = '';
  const callback = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return void res.writeHead(404).end();
    const code = url.searchParams.get('code');
    const ok = Boolean(code) && url.searchParams.get('state') === expectedState;
    res.writeHead(ok ? 200 : 400, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      renderPage({
        title: ok ? 'Signed in' : 'Sign-in failed',
        body: ok
          ? '<p>You can close this tab and go back to the terminal.</p>'
          : `<p class="error">${escapeHtml(url.searchParams.get('error') ?? 'unexpected callback')}</p>`,
      }),
    );
    if (ok) resolveCode(code!);
    else rejectCode(new Error(`the authorization failed: ${url.searchParams.get('error') ?? 'bad state'}`));
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  const redirectUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;

  let client: OAuthClientInformationMixed | undefined;
  let tokens: OAuthTokens | undefined;
  let verifier = '';
  const provider: OAuthClientProvider = {
    redirectUrl,
    clientMetadata: {
      client_name: 'connect-bridge demo client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    state: () => (expectedState = randomBytes(16).toString('base64url')),
    clientInformation: () => client,
    saveClientInformation: (info) => void (client = info),
    tokens: () => tokens,
    saveTokens: (t) => void (tokens = t),
    saveCodeVerifier: (v) => void (verifier = v),
    codeVerifier: () => verifier,
    redirectToAuthorization: (url) => {
      console.log(`Open this link in your browser to sign in:\n\n  ${url.toString()}\n`);
    },
  };

  const connect = async () => {
    const c = new Client({ name: 'connect-bridge-demo-client', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
    return c;
  };
  let mcp: Client;
  try {
    mcp = await connect();
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    const timer = setTimeout(
      () => rejectCode(new Error('nobody signed in within 5 minutes')),
      SIGN_IN_TIMEOUT_MS,
    );
    const code = await codeArrived.finally(() => clearTimeout(timer));
    await new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }).finishAuth(code);
    mcp = await connect();
  }
  try {
    const { tools } = await mcp.listTools();
    console.log(`Connected to ${mcpUrl.toString()}; tools: ${tools.map((t) => t.name).join(', ')}`);
    const result = (await mcp.callTool({ name: 'whoami', arguments: {} })) as {
      content: Array<{ text?: string }>;
    };
    console.log(`whoami answered:\n${result.content[0]?.text ?? JSON.stringify(result)}`);
  } finally {
    await mcp.close();
    callback.close();
    callback.closeAllConnections();
  }
}

main().catch((err: unknown) => {
  console.error(`mcp-client: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
