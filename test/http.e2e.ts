import request from 'supertest';
import { DATABASE_HANDLE } from '../src/database/prisma.service';
import type { DatabaseHandle } from '../src/database/adapter';
import { LogCapture, startApp } from './helpers/app';
import { testConfig } from './helpers/config';
import { createTestDatabase, type TestDatabase } from './helpers/database';

describe('operations endpoints', () => {
  let db: TestDatabase;
  let server: Awaited<ReturnType<typeof startApp>>;
  const logs = new LogCapture();

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startApp(testConfig({ LOG_LEVEL: 'info' }, db.database), logs);
  });
  afterAll(async () => {
    await server.close();
    await db.dispose();
  });

  it('GET /healthz answers 200', async () => {
    const res = await request(server.url).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('GET /readyz reports the database up', async () => {
    const res = await request(server.url).get('/readyz').expect(200);
    // which check is up or down, nothing more (details need ADMIN_API_TOKEN: test/health.e2e.ts)
    expect(res.body).toEqual({ status: 'ok', checks: { database: 'up' } });
  });

  it('GET /metrics serves Prometheus text with request counts and latencies', async () => {
    await request(server.url).get('/healthz');
    const res = await request(server.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(res.text).toMatch(
      /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/healthz",status="200"\}/,
    );
    expect(res.text).toContain('process_resident_memory_bytes');
  });

  it('answers an unknown route with a JSON 404 in the one error shape', async () => {
    const res = await request(server.url).get('/no/such/route').expect(404);
    expect(res.body).toEqual({
      error: { code: 'not_found', message: 'There is nothing at GET /no/such/route.' },
    });
  });

  it('answers an unknown route from a browser with an HTML page', async () => {
    const res = await request(server.url).get('/nope').set('Accept', 'text/html').expect(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Page not found');
    expect(res.text).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it('answers a malformed JSON body with a 400, not a stack trace', async () => {
    const res = await request(server.url)
      .post('/healthz')
      .set('Content-Type', 'application/json')
      .send('{"broken":')
      .expect(400);
    expect(res.body).toEqual({
      error: { code: 'bad_request', message: 'The request body is not valid JSON.' },
    });
  });

  it('answers an oversized body with a 413', async () => {
    const res = await request(server.url)
      .post('/healthz')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ x: 'a'.repeat(1_100_000) }))
      .expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('keeps bearer tokens, cookies and secret query values out of the logs', async () => {
    await request(server.url)
      .get('/no-such-page?external_auth_id=ext_auth_SECRET123&x=1')
      .set('Authorization', 'Bearer secret-token')
      .set('Cookie', 'sid=cookie-secret-value; other=2')
      .expect(404);
    const text = logs.text;
    expect(text).toContain('/no-such-page');
    expect(text).not.toContain('secret-token');
    expect(text).not.toContain('cookie-secret-value');
    expect(text).not.toContain('ext_auth_SECRET123');
    // The access line names the path, never the query.
    expect(text).toMatch(/"method":"GET","route":"\/no-such-page","status":404/);
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const mine = await request(server.url).get('/healthz').set('X-Request-Id', 'abc-123');
    expect(mine.headers['x-request-id']).toBe('abc-123');
    const bad = await request(server.url).get('/healthz').set('X-Request-Id', 'a b<script>');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness when the database goes away', () => {
  it('GET /readyz answers 503 naming the database, while /healthz stays 200', async () => {
    const db = await createTestDatabase();
    const admin = 'readiness-admin-token-0123456789abcdef';
    const server = await startApp(testConfig({ ADMIN_API_TOKEN: admin }, db.database));
    try {
      await request(server.url).get('/readyz').expect(200);
      if (db.database.kind === 'postgres') await db.drop();
      else await server.app.get<DatabaseHandle>(DATABASE_HANDLE).close();
      const res = await request(server.url).get('/readyz').expect(503);
      expect(res.body).toEqual({ status: 'error', checks: { database: 'down' } });
      const details = await request(server.url).get('/readyz').set('Authorization', `Bearer ${admin}`);
      expect(details.body.error.database.status).toBe('down');
      expect(typeof details.body.error.database.message).toBe('string');
      await request(server.url).get('/healthz').expect(200);
    } finally {
      await server.close().catch(() => undefined);
      await db.dispose();
    }
  });
});
