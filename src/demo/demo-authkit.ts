import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EmulatorOptions, RunningEmulator } from '../../emulator';
import type { AppConfig } from '../config/app-config';
import type { DemoInfo } from './demo.pages';

/** The public client pre-registered in demo mode (MCP Inspector's callback and a loopback one). */
export const DEMO_CLIENT = {
  clientId: 'demo_client',
  name: 'Demo MCP client',
  redirectUris: ['http://localhost:6274/oauth/callback', 'http://127.0.0.1:33418/callback'],
};

interface EmulatorModule {
  startEmulator(options: EmulatorOptions): Promise<RunningEmulator>;
}

/**
 * Loads the emulator at run time, only when demo mode asks for it: the production code path
 * never loads it. From dist/src/demo this is the compiled dist/emulator; under Jest, the
 * TypeScript sources in emulator/.
 */
function loadEmulator(): EmulatorModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(__dirname, '..', '..', 'emulator')) as EmulatorModule;
}

export interface DemoAuthKit {
  emulator: RunningEmulator;
  /** The config with its `workos` block pointing at the emulator. */
  config: AppConfig;
  /** An authorize URL a person can open to walk the whole flow (PKCE verifier below). */
  authorizeUrl: string;
  codeVerifier: string;
  close(): Promise<void>;
}

/** Starts the embedded AuthKit emulator for `npm start` (demo mode only, never in production). */
export async function startDemoAuthKit(
  config: AppConfig,
  options: { port?: number; load?: () => EmulatorModule } = {},
): Promise<DemoAuthKit> {
  if (!config.demo || config.production) throw new Error('the AuthKit emulator runs only in demo mode');
  const { startEmulator } = (options.load ?? loadEmulator)();
  const port = options.port ?? config.emulatorPort;
  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({
      port,
      loginUri: `${config.publicUrl}/auth/login`,
      // plus the callback of the home page's "Start the sign-in" (src/demo/demo.controller.ts)
      clients: [{ ...DEMO_CLIENT, redirectUris: [...DEMO_CLIENT.redirectUris, demoCallbackUrl(config)] }],
      allowHttpLocalhostClientIds: true,
    });
  } catch (err) {
    throw new Error(
      `the demo AuthKit emulator could not listen on port ${port} (${err instanceof Error ? err.message : String(err)}); set EMULATOR_PORT`,
    );
  }
  const codeVerifier = randomBytes(32).toString('base64url');
  const authorizeUrl = demoAuthorizeUrl({
    issuer: emulator.issuer,
    redirectUri: DEMO_CLIENT.redirectUris[1],
    resource: `${config.publicUrl}/mcp`,
    state: 'demo',
    codeVerifier,
  });
  return {
    emulator,
    config: {
      ...config,
      workos: {
        ...config.workos,
        apiKey: emulator.apiKey,
        clientId: emulator.clientId,
        apiUrl: emulator.url,
        authkitDomain: emulator.issuer,
      },
    },
    authorizeUrl,
    codeVerifier,
    close: () => emulator.close(),
  };
}

/** An authorize URL of DEMO_CLIENT (PKCE S256, the demo's scopes) for the given callback and state. */
export function demoAuthorizeUrl(p: {
  issuer: string;
  redirectUri: string;
  resource: string;
  state: string;
  codeVerifier: string;
}): string {
  const url = new URL(`${p.issuer}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: DEMO_CLIENT.clientId,
    redirect_uri: p.redirectUri,
    scope: 'openid profile email offline_access',
    resource: p.resource,
    state: p.state,
    code_challenge: createHash('sha256').update(p.codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

/** Where the home page's in-browser walk-through comes back (a redirect URI of DEMO_CLIENT). */
export const demoCallbackUrl = (config: AppConfig): string => `${config.publicUrl}/demo/callback`;

/** What the demo's pages need to know about this demo. */
export function demoInfo(demo: DemoAuthKit, demoEmail: string): DemoInfo {
  return {
    publicUrl: demo.config.publicUrl,
    mcpUrl: `${demo.config.publicUrl}/mcp`,
    authkitUrl: demo.emulator.issuer,
    clientId: DEMO_CLIENT.clientId,
    callbackUrl: demoCallbackUrl(demo.config),
    demoEmail,
    strategy: demo.config.legacy.strategy,
  };
}

/** The demo's line about AuthKit for the start-up banner. */
export function demoAuthKitLines(demo: DemoAuthKit): string[] {
  return [
    `  AuthKit      ${demo.emulator.issuer}  (the emulator; public client "${DEMO_CLIENT.clientId}" pre-registered)`,
  ];
}
