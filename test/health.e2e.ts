/**
 * What the operations endpoints tell an anonymous caller when dependencies are down: which check
 * is up or down, never why (host names, ports, database messages); the reasons go to the log
 * (once per change, not once per probe) and to a caller holding ADMIN_API_TOKEN.
 *
 * One log capture for the whole file: nestjs-pino keeps its root logger in module state, so every
 * app of a file logs to the stream of the first one.
 */
import request from 'supertest';
import { LogCapture, startApp } from './helpers/app';
import { testConfig } from './helpers/config';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { freePort } from './helpers/ports';

const ADMIN_TOKEN = 'admin-token-for-readiness-details-0123456789';
const DB_PASSWORD = 'db-password-never-shown-42';
const logs = new LogCapture();

describe('/readyz, /healthz, /metrics and error pages with AuthKit and the database unreachable', () => {
  let server: Awaited<ReturnType<typeof startApp>>;
  let deadAuthkit: string;
  let deadDatabase: string;
  /** What an anonymous answer must never contain. */
  let internals: string[];

  beforeAll(async () => {
    const authkitPort = await freePort();
    const dbPort = await freePort();
    deadAuthkit = `http://127.0.0.1:${authkitPort}`;
    deadDatabase = `postgresql://bridge:${DB_PASSWORD}@127.0.0.1:${dbPort}/bridge`;
    internals = ['127.0.0.1', String(authkitPort), String(dbPort), DB_PASSWORD, 'ECONNREFUSED', 'failed'];
    server = await startApp(
      testConfig(
        {
          LOG_LEVEL: 'info',
          WORKOS_API_KEY: 'sk_test_dead',
          WORKOS_CLIENT_ID: 'client_dead',
          WORKOS_API_URL: deadAuthkit,
          AUTHKIT_DOMAIN: deadAuthkit,
          ADMIN_API_TOKEN: ADMIN_TOKEN,
        },
        { kind: 'postgres', url: deadDatabase, autoMigrate: false },
      ),
      logs,
    );
  });
  afterAll(() => server.close());

  const expectNoInternals = (text: string) => {
    for (const secret of internals) expect(text).not.toContain(secret);
  };

  it('answers anonymous callers with which check is up or down, and nothing else', async () => {
    const res = await request(server.url).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      status: 'error',
      checks: { database: 'down', authkit_metadata: 'down', authkit_jwks: 'down' },
    });
    expectNoInternals(res.text);
  });

  it('ignores a wrong or malformed admin token (the same anonymous answer)', async () => {
    for (const authorization of [`Bearer ${ADMIN_TOKEN}x`, 'Bearer', ADMIN_TOKEN, `Basic ${ADMIN_TOKEN}`]) {
      const res = await request(server.url).get('/readyz').set('Authorization', authorization);
      expect(res.status).toBe(503);
      expect(Object.keys(res.body).sort()).toEqual(['checks', 'status']);
      expectNoInternals(res.text);
    }
  });

  it('shows the reasons to a caller with ADMIN_API_TOKEN, never the database password', async () => {
    const res = await request(server.url).get('/readyz').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.checks).toEqual({ database: 'down', authkit_metadata: 'down', authkit_jwks: 'down' });
    expect(res.body.error.authkit_metadata).toMatchObject({
      status: 'down',
      message: expect.stringContaining(`${deadAuthkit}/.well-known/oauth-authorization-server failed`),
    });
    expect(res.body.error.authkit_jwks.message).toContain(`${deadAuthkit}/oauth2/jwks failed`);
    expect(typeof res.body.error.database.message).toBe('string');
    expect(res.text).not.toContain(DB_PASSWORD);
  });

  it('logs each reason once while it lasts, not once per probe, and never the database password', async () => {
    for (let i = 0; i < 5; i++) await request(server.url).get('/readyz');
    const lines = (check: string) =>
      logs.lines.filter((l) => l.includes('readiness check') && l.includes(`"${check}"`));
    for (const check of ['database', 'authkit_metadata', 'authkit_jwks']) {
      expect(lines(check)).toHaveLength(1);
      expect(JSON.parse(lines(check)[0])).toMatchObject({ level: 40, check, reason: expect.any(String) });
    }
    expect(lines('authkit_metadata')[0]).toContain(deadAuthkit);
    expect(logs.text).not.toContain(DB_PASSWORD);
  });

  it('keeps /healthz, /metrics and the error pages free of internals', async () => {
    const healthz = await request(server.url).get('/healthz');
    expect(healthz.body).toEqual({ status: 'ok' });
    const metrics = await request(server.url).get('/metrics');
    expect(metrics.status).toBe(200);
    expectNoInternals(metrics.text);
    // a page that needs the database, a JSON API that needs it, and the MCP endpoint needing AuthKit
    const page = await request(server.url)
      .get('/auth/login?external_auth_id=ext_auth_readiness_0001')
      .set('Accept', 'text/html');
    expect(page.status).toBe(503);
    expectNoInternals(page.text);
    expect(page.text).not.toMatch(/at .*\.(js|ts):\d+|SELECT|INSERT|prisma/i);
    const mcp = await request(server.url)
      .post('/mcp')
      .set('Accept', 'application/json, text/event-stream')
      .set('Content-Type', 'application/json')
      .set('Authorization', 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyXzEifQ.c2ln')
      .send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(mcp.status).toBe(503);
    expectNoInternals(mcp.text);
    const admin = await request(server.url)
      .get('/admin/grants')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(admin.status).toBeGreaterThanOrEqual(400);
    expect(admin.status).not.toBe(500);
    expectNoInternals(admin.text);
  });
});

describe('/readyz when everything is up', () => {
  let db: TestDatabase;
  let server: Awaited<ReturnType<typeof startApp>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startApp(testConfig({ ADMIN_API_TOKEN: ADMIN_TOKEN }, db.database), logs);
  });
  afterAll(async () => {
    await server.close();
    await db.dispose();
  });

  it('answers 200 with the checks, and the details only with the admin token', async () => {
    const res = await request(server.url).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { database: 'up' } });
    const admin = await request(server.url).get('/readyz').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(admin.body).toMatchObject({
      status: 'ok',
      checks: { database: 'up' },
      details: { database: { status: 'up', kind: db.database.kind } },
    });
  });
});
