import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startEmulator, type RunningEmulator } from '../../emulator';
import { LogCapture } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startBridge } from './helpers';

describe('startup self-checks', () => {
  let emulator: RunningEmulator;
  let db: TestDatabase;
  let liar: Server;
  let liarUrl: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, loginUri: 'http://127.0.0.1:9/auth/login' });
    db = await createTestDatabase();
    // An "AuthKit" whose metadata advertises its issuer with a trailing slash.
    liar = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/oauth-authorization-server')
        res.end(JSON.stringify({ issuer: `${liarUrl}/` }));
      else if (req.url === '/oauth2/jwks') res.end(JSON.stringify(emulator.jwks()));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await emulator.close();
    await new Promise((r) => liar.close(r));
    await db.dispose();
  });

  it('fails /readyz with an explicit reason when the advertised issuer differs from AUTHKIT_DOMAIN', async () => {
    const admin = 'startup-suite-admin-token-0123456789';
    const bridge = await startBridge(
      { ...emulator, issuer: liarUrl } as RunningEmulator,
      db.database,
      { ADMIN_API_TOKEN: admin },
      logs,
    );
    try {
      const anonymous = await request(bridge.url).get('/readyz');
      expect(anonymous.status).toBe(503);
      expect(anonymous.body.checks.authkit_metadata).toBe('down');
      expect(anonymous.text).not.toContain(liarUrl); // the reason is for the log and the admin token
      const res = await request(bridge.url).get('/readyz').set('Authorization', `Bearer ${admin}`);
      expect(res.status).toBe(503);
      expect(res.body.error.authkit_metadata).toEqual({
        status: 'down',
        message:
          `AuthKit metadata issuer "${liarUrl}/" does not equal AUTHKIT_DOMAIN "${liarUrl}" byte for byte; MCP clients ` +
          'will refuse the authorization server. Set AUTHKIT_DOMAIN to the advertised issuer.',
      });
      expect(res.body.details.authkit_jwks.status).toBe('up');
      await new Promise((r) => setTimeout(r, 50));
      expect(logs.text).toMatch(/AuthKit self-check failed: AuthKit metadata issuer/);
    } finally {
      await bridge.close();
    }
  });

  it('logs a loud warning when MCP_AUDIENCE accepts the bare client id', async () => {
    const bridge = await startBridge(
      emulator,
      db.database,
      { MCP_AUDIENCE: `http://x.example/mcp,${emulator.clientId}` },
      logs,
    );
    try {
      expect(logs.text).toContain(`!!! MCP_AUDIENCE accepts the bare client id \\"${emulator.clientId}\\"`);
      expect(logs.text).toContain('Configure the resource indicator in the WorkOS dashboard');
      expect(logs.text).toContain(`MCP_AUDIENCE does not include ${bridge.url}/mcp`);
    } finally {
      await bridge.close();
    }
  });
});
