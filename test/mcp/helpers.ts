import type { NestExpressApplication } from '@nestjs/platform-express';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { createApp } from '../../src/bootstrap';
import type { AppConfig } from '../../src/config/app-config';
import { LogCapture } from '../helpers/app';
import { emulatorEnv, testConfig } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';

export { freePort };

export interface Bridge {
  app: NestExpressApplication;
  url: string;
  mcpUrl: string;
  config: AppConfig;
  logs: LogCapture;
  close(): Promise<void>;
}

/** The real app on a known port, configured against an emulator (non-demo: its API key). */
export async function startBridge(
  emulator: RunningEmulator,
  database: AppConfig['database'],
  env: Record<string, string> = {},
  /**
   * nestjs-pino keeps its root logger in module state: every app of a test file logs to the
   * stream of the first one. Pass one capture to all bridges of a file that asserts on logs.
   */
  logs = new LogCapture(),
): Promise<Bridge> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = testConfig(
    {
      PORT: String(port),
      PUBLIC_URL: url,
      ...emulatorEnv(emulator),
      LOG_LEVEL: 'info',
      // Most suites here send tokens the emulator mints for made-up users that never signed in
      // through the bridge; suites about linked identities and grants set it to 'false'.
      MCP_ALLOW_UNLINKED_USERS: 'true',
      ...env,
    },
    database,
  );
  const app = await createApp(config, { logStream: logs });
  await app.listen(port, '127.0.0.1');
  await keysFetched(url);
  return { app, url, mcpUrl: `${url}/mcp`, config, logs, close: () => app.close() };
}

/**
 * Waits (up to 5 s) until the bridge holds AuthKit's keys, as a load balancer waits for /readyz:
 * a request in the first instants after boot may otherwise meet the key fetch still in flight (or
 * failed on a busy machine) and get an honest 503. Suites that test unready bridges just go on.
 */
async function keysFetched(url: string): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    const body = (await res?.json().catch(() => undefined)) as
      { checks?: Record<string, string> } | undefined;
    if (body?.checks?.authkit_jwks === 'up') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface McpWorld {
  emulator: RunningEmulator;
  db: TestDatabase;
  bridge: Bridge;
  close(): Promise<void>;
}

/** An emulator, a throwaway database and the bridge in front of them. */
export async function startWorld(env: Record<string, string> = {}): Promise<McpWorld> {
  const emulator = await startEmulator({
    port: 0,
    loginUri: 'http://127.0.0.1:9/auth/login',
    enableTestControl: true,
    clients: [{ clientId: 'client_mcp_test', redirectUris: ['http://127.0.0.1:33419/callback'] }],
  });
  const db = await createTestDatabase();
  const bridge = await startBridge(emulator, db.database, env);
  return {
    emulator,
    db,
    bridge,
    close: async () => {
      await bridge.close();
      await emulator.close().catch(() => undefined); // some tests stop it early
      await db.dispose();
    },
  };
}

/** A JSON-RPC tools/call body. */
export const toolCall = (name: string, args: Record<string, unknown> = {}, id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

export const MCP_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-06-18',
};
