import { loadConfig } from './app-config';
import { describeStartup } from './startup-mode';

const production = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://bridge.example.com',
  WORKOS_API_KEY: 'sk_live_1',
  WORKOS_CLIENT_ID: 'client_1',
  AUTHKIT_DOMAIN: 'https://acme.authkit.app',
  SESSION_SECRET: 'x'.repeat(40),
  DATABASE_URL: 'postgresql://bridge:hunter2-password@db.internal:5432/bridge?sslmode=require',
};

describe('describeStartup: the first line of the log names the mode', () => {
  it('production: WorkOS, AuthKit, PostgreSQL without its credentials, the public URL; no warning', () => {
    const s = describeStartup(loadConfig(production));
    expect(s.mode).toBe('production');
    expect(s.line).toBe(
      'connect-bridge starting in production mode (NODE_ENV=production, WorkOS API https://api.workos.com, AuthKit https://acme.authkit.app, PostgreSQL at db.internal:5432/bridge, public URL https://bridge.example.com)',
    );
    expect(s.line).not.toMatch(/hunter2|sslmode/);
    expect(s.warnings).toEqual([]);
  });

  it('production on the embedded database (explicitly allowed): a warning that says what it costs', () => {
    const { DATABASE_URL: _ignored, ...embedded } = production;
    void _ignored;
    const s = describeStartup(loadConfig({ ...embedded, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true' }));
    expect(s.line).toMatch(
      /^connect-bridge starting in production mode \(.*embedded PGlite database in \.data\/pglite/,
    );
    expect(s.warnings).toEqual([
      expect.stringMatching(
        /one process only, has no backups \(copy \.data\/pglite .*no second instance can share it/,
      ),
    ]);
  });

  it('demo: the embedded emulator and database, not for production', () => {
    const s = describeStartup(loadConfig({}));
    expect(s.mode).toBe('demo');
    expect(s.line).toBe(
      'connect-bridge starting in demo mode: embedded AuthKit emulator and database (embedded PGlite database in .data/pglite); not for production (NODE_ENV=development, public URL http://localhost:3000)',
    );
  });

  it('development or test against WorkOS (or an emulator): says the production checks are off', () => {
    const s = describeStartup(
      loadConfig({
        NODE_ENV: 'test',
        WORKOS_API_KEY: 'sk_test_1',
        WORKOS_CLIENT_ID: 'client_1',
        WORKOS_API_URL: 'http://127.0.0.1:4100',
        AUTHKIT_DOMAIN: 'http://127.0.0.1:4100',
        PUBLIC_URL: 'https://127.0.0.1:8443',
      }),
    );
    expect(s.mode).toBe('test');
    expect(s.line).toMatch(
      /^connect-bridge starting in test mode \(NODE_ENV=test, WorkOS API http:\/\/127\.0\.0\.1:4100, .*public URL https:\/\/127\.0\.0\.1:8443\): production checks are off/,
    );
  });
});
