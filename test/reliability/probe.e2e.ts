import request from 'supertest';
import { startWorld } from '../mcp/helpers';
import { MCP_HEADERS } from '../mcp/helpers';

jest.setTimeout(60000);
it('probe proto', async () => {
  const w = await startWorld({ LOG_LEVEL: 'debug' });
  const auth = `Bearer ${await w.emulator.mintAccessToken({ aud: w.bridge.mcpUrl })}`;
  for (const body of ['{"jsonrpc":"2.0","id":1,"method":"tools/list","__proto__":{"polluted":true}}', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"__proto__":{"x":1}}}', '{"jsonrpc":"2.0","id":1,"method":"tools/list","constructor":{"prototype":{"x":1}}}']) {
    const t = Date.now();
    const res = await request(w.bridge.url).post('/mcp').set({ ...MCP_HEADERS, Authorization: auth }).send(body).timeout(3000).catch((e) => ({ status: 'ERR ' + e.message, text: '' }));
    console.log(body, res.status, Date.now() - t, String(res.text).slice(0, 300));
  }
  console.log(w.bridge.logs.lines.filter(l => /"level":(40|50)/.test(l)).map(l => l.slice(0, 900)).join('\n'));
  await w.close();
});
