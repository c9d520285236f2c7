import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkOS } from '@workos-inc/node';
import { DEMO_CLIENT, demoAuthKitLines, startDemoAuthKit } from '../../src/demo/demo-authkit';
import { testConfig } from '../helpers/config';
import { get } from './helpers';

describe('demo mode: the embedded AuthKit emulator', () => {
  it('starts the emulator with the bridge Login URI and points the workos config at it', async () => {
    const config = testConfig({ PUBLIC_URL: 'http://localhost:3999' });
    expect(config.demo).toBe(true);
    const demo = await startDemoAuthKit(config, { port: 0 });
    try {
      const { workos } = demo.config;
      expect(workos).toEqual({
        apiKey: demo.emulator.apiKey,
        clientId: demo.emulator.clientId,
        apiUrl: demo.emulator.url,
        authkitDomain: demo.emulator.issuer,
      });
      expect(demo.config.publicUrl).toBe(config.publicUrl);

      // The printed authorize URL walks to the bridge's Login URI with an external_auth_id.
      const res = await get(demo.authorizeUrl);
      expect(res.status).toBe(302);
      const login = new URL(res.location!);
      expect(`${login.origin}${login.pathname}`).toBe('http://localhost:3999/auth/login');
      expect(new URL(demo.authorizeUrl).searchParams.get('client_id')).toBe(DEMO_CLIENT.clientId);
      expect(new URL(demo.authorizeUrl).searchParams.get('resource')).toBe('http://localhost:3999/mcp');

      // What the bridge will do with that config: the SDK reaches the emulator.
      const api = new URL(workos.apiUrl);
      const sdk = new WorkOS(workos.apiKey!, {
        apiHostname: api.hostname,
        port: Number(api.port),
        https: false,
      });
      const done = await sdk.connect.completeOAuth2({
        externalAuthId: login.searchParams.get('external_auth_id')!,
        user: { id: 'demo-user', email: 'demo@example.com' },
      });
      expect(new URL(done.redirectUri).origin).toBe(workos.authkitDomain);
      expect(demoAuthKitLines(demo).join('\n')).toContain(demo.emulator.issuer);
    } finally {
      await demo.close();
    }
  });

  it('refuses to run outside demo mode', async () => {
    const config = testConfig({
      WORKOS_API_KEY: 'sk_test_x',
      WORKOS_CLIENT_ID: 'client_x',
      AUTHKIT_DOMAIN: 'https://acme.authkit.app',
    });
    await expect(startDemoAuthKit(config, { port: 0 })).rejects.toThrow(/only in demo mode/);
  });

  it('loads the emulator only at run time (no static import on the production path)', () => {
    const src = readFileSync(join(__dirname, '..', '..', 'src', 'demo', 'demo-authkit.ts'), 'utf8');
    const staticImports = src.match(/^import (?!type ).*$/gm) ?? [];
    expect(staticImports.filter((l) => l.includes('emulator'))).toEqual([]);
    const main = readFileSync(join(__dirname, '..', '..', 'src', 'main.ts'), 'utf8');
    expect(main).not.toMatch(/from '\.\.\/emulator/);
  });
});
