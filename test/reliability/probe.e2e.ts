import request from 'supertest';
import { startHarness } from '../login/harness';
import { startPrivatePostgres } from './private-postgres';

jest.setTimeout(120000);
it('probe db outage', async () => {
  const pg = await startPrivatePostgres();
  const h = await startHarness({
    db: {
      database: { kind: 'postgres', url: pg.url, autoMigrate: true },
      dispose: async () => undefined,
      drop: async () => undefined,
    },
  });
  const grab = async () => {
    try {
      await h.prisma.loginTransaction.findFirst();
      return 'ok';
    } catch (e) {
      const x = e as any;
      return {
        name: x.name,
        code: x.code,
        meta: JSON.stringify(x.meta),
        msg: String(x.message).slice(-300),
        cause: x.cause && { name: x.cause.name, kind: x.cause.kind, code: x.cause.code },
      };
    }
  };
  const grab2 = async () => {
    try {
      await h.prisma.$queryRaw`SELECT 1`;
      return 'ok';
    } catch (e) {
      const x = e as any;
      return { name: x.name, code: x.code, meta: JSON.stringify(x.meta), msg: String(x.message).slice(-300) };
    }
  };
  console.log('before', await grab());
  pg.stop('immediate');
  console.log('during', await grab(), await grab2());
  await new Promise((r) => setTimeout(r, 500));
  console.log('during', await grab(), await grab2());
  pg.start();
  console.log('after', await grab());
  await h.close();
  pg.dispose();
});
it('probe batch', async () => {
  const h = await startHarness();
  const token = await h.emulator.mintAccessToken({ aud: `${h.url}/mcp` });
  const H = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    Authorization: `Bearer ${token}`,
  };
  for (const n of [10, 1000, 10000]) {
    const body = JSON.stringify(
      Array.from({ length: n }, (_, i) => ({
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      })),
    );
    const t = Date.now();
    const r = await request(h.url).post('/mcp').set(H).send(body);
    console.log(n, body.length, r.status, Date.now() - t, 'ms', r.text.length);
  }
  await h.close();
});
