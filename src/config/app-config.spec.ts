import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';
import { envSchema } from './env.schema';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const full = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://bridge.example.com',
  WORKOS_API_KEY: 'sk_test_123',
  WORKOS_CLIENT_ID: 'client_123',
  AUTHKIT_DOMAIN: 'https://acme.authkit.app',
  SESSION_SECRET: 'x'.repeat(40),
  DATABASE_URL: 'postgresql://u:p@db:5432/bridge',
};

describe('loadConfig', () => {
  it('gives demo defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.demo).toBe(true);
    expect(c.port).toBe(3000);
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '.data/pglite', autoMigrate: true });
    expect(c.mcp.audience).toEqual(['http://localhost:3000/mcp']);
    expect(c.legacy.strategy).toBe('local');
    expect(c.legacy.returnToParam).toBe('return_to');
    expect(c.session.generated).toBe(true);
    expect(c.session.secret.length).toBeGreaterThanOrEqual(32);
    expect(c.secureCookies).toBe(false);
  });

  it('accepts a full production environment', () => {
    const c = loadConfig(full);
    expect(c.production).toBe(true);
    expect(c.demo).toBe(false);
    expect(c.database).toEqual({ kind: 'postgres', url: full.DATABASE_URL, autoMigrate: false });
    expect(c.mcp.audience).toEqual(['https://bridge.example.com/mcp']);
    expect(c.secureCookies).toBe(true);
    expect(c.session).toEqual({ secret: full.SESSION_SECRET, generated: false });
  });

  it('derives PUBLIC_URL from PORT and strips trailing slashes', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:9000/' }).publicUrl).toBe('http://127.0.0.1:9000');
  });

  it('splits comma-separated lists', () => {
    const c = loadConfig({ MCP_AUDIENCE: 'https://a/mcp, client_1', LEGACY_COOKIE_NAMES: 'sid,remember' });
    expect(c.mcp.audience).toEqual(['https://a/mcp', 'client_1']);
    expect(c.legacy.cookieNames).toEqual(['sid', 'remember']);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).database.kind).toBe('pglite');
  });

  it('refuses demo mode in production, naming each missing variable on its own line', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^WORKOS_API_KEY: required in production/),
        expect.stringMatching(/^SESSION_SECRET: required in production/),
        expect.stringMatching(/^PUBLIC_URL: required in production/),
      ]),
    );
  });

  it.each([
    ['PORT', 'eighty', /^PORT: /],
    ['PORT', '70000', /^PORT: /],
    ['PUBLIC_URL', 'not a url', /^PUBLIC_URL: must be an absolute http\(s\) URL/],
    ['PUBLIC_URL', 'ftp://x', /^PUBLIC_URL: must be an absolute http\(s\) URL/],
    ['DATABASE_URL', 'mysql://x', /^DATABASE_URL: must start with postgresql:\/\//],
    ['WORKOS_API_KEY', 'pk_live', /^WORKOS_API_KEY: must be a WorkOS secret key/],
    ['WORKOS_CLIENT_ID', 'abc', /^WORKOS_CLIENT_ID: must be a WorkOS client id/],
    ['SESSION_SECRET', 'short', /^SESSION_SECRET: must be at least 32 characters/],
    ['LEGACY_AUTH_STRATEGY', 'ldap', /^LEGACY_AUTH_STRATEGY: /],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL: /],
    ['NODE_ENV', 'staging', /^NODE_ENV: /],
  ])('reports malformed %s=%s', (name, value, expected) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('lists every bad variable at once, one line each, without echoing values', () => {
    let message = '';
    try {
      loadConfig({
        PORT: 'x',
        PUBLIC_URL: 'nope',
        SESSION_SECRET: 'tiny-secret-value',
        WORKOS_API_KEY: 'bad',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines.map((l) => l.split(':')[0].slice(4)).sort()).toEqual(
      ['PORT', 'PUBLIC_URL', 'SESSION_SECRET', 'WORKOS_API_KEY'].sort(),
    );
    expect(message).not.toContain('tiny-secret-value');
  });

  it('requires https in production for every URL', () => {
    const problems = problemsOf({
      ...full,
      PUBLIC_URL: 'http://bridge.example.com',
      AUTHKIT_DOMAIN: 'http://acme.authkit.app',
      WORKOS_API_URL: 'http://api.workos.com',
    });
    expect(problems).toEqual([
      'PUBLIC_URL: must be https:// in production',
      'WORKOS_API_URL: must be https:// in production',
      'AUTHKIT_DOMAIN: must be https:// in production',
    ]);
  });

  it('accepts http URLs outside production (an emulator on loopback)', () => {
    const c = loadConfig({
      WORKOS_API_KEY: 'sk_test_1',
      WORKOS_CLIENT_ID: 'client_1',
      AUTHKIT_DOMAIN: 'http://127.0.0.1:4100',
      WORKOS_API_URL: 'http://127.0.0.1:4100',
    });
    expect(c.demo).toBe(false);
    expect(c.workos.authkitDomain).toBe('http://127.0.0.1:4100');
  });

  it('needs the WorkOS client id and AuthKit domain outside demo mode', () => {
    expect(problemsOf({ WORKOS_API_KEY: 'sk_test_1' })).toEqual([
      'WORKOS_CLIENT_ID: required when WORKOS_API_KEY is set',
      'AUTHKIT_DOMAIN: required when WORKOS_API_KEY is set',
    ]);
  });

  it('rejects an AuthKit domain with a trailing slash (issuer comparison is byte for byte)', () => {
    expect(problemsOf({ ...full, AUTHKIT_DOMAIN: 'https://acme.authkit.app/' })).toEqual([
      'AUTHKIT_DOMAIN: must not end with "/" (it is compared byte for byte with the issuer)',
    ]);
  });

  it('checks what each legacy strategy needs', () => {
    expect(problemsOf({ LEGACY_AUTH_STRATEGY: 'session-introspection' })).toEqual([
      'LEGACY_SESSION_URL: required for LEGACY_AUTH_STRATEGY=session-introspection',
      'LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=session-introspection',
    ]);
    expect(
      problemsOf({ LEGACY_AUTH_STRATEGY: 'jwt-cookie', LEGACY_LOGIN_URL: 'http://legacy/login' }),
    ).toEqual([
      'LEGACY_JWT_SECRET: set it (HS256) or LEGACY_JWT_JWKS_URL for LEGACY_AUTH_STRATEGY=jwt-cookie',
    ]);
    expect(
      problemsOf({
        LEGACY_AUTH_STRATEGY: 'jwt-cookie',
        LEGACY_LOGIN_URL: 'http://legacy/login',
        LEGACY_JWT_SECRET: 's'.repeat(32),
        LEGACY_JWT_ALGORITHMS: 'HS256,none',
      }),
    ).toEqual([expect.stringMatching(/^LEGACY_JWT_ALGORITHMS: unsupported none/)]);
  });

  it('parses TRUST_PROXY', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
  });
});

describe('EMULATOR_PORT', () => {
  it('defaults to 4100 and accepts another port for the demo emulator', () => {
    expect(loadConfig({}).emulatorPort).toBe(4100);
    expect(loadConfig({ EMULATOR_PORT: '4200' }).emulatorPort).toBe(4200);
    expect(problemsOf({ EMULATOR_PORT: 'x' })).toEqual([expect.stringMatching(/^EMULATOR_PORT: /)]);
  });
});

describe('.env.example', () => {
  it('documents every variable the service reads', () => {
    const documented = new Set(
      readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
        .filter(Boolean),
    );
    expect(Object.keys(envSchema.shape).filter((k) => !documented.has(k))).toEqual([]);
  });
});

describe('LOGIN_RATE_LIMIT_*', () => {
  it('defaults to 30 attempts per IP and 10 per account per 15 minutes', () => {
    expect(loadConfig({}).login.rateLimit).toEqual({ perIp: 30, perAccount: 10, windowSeconds: 900 });
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: ' ',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '',
      }).login.rateLimit,
    ).toEqual({ perIp: 30, perAccount: 10, windowSeconds: 900 });
  });

  it('takes each limit and the window from the environment, bounds included', () => {
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '200',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '5',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '3600',
      }).login.rateLimit,
    ).toEqual({ perIp: 200, perAccount: 5, windowSeconds: 3600 });
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '1',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '1',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '60',
      }).login.rateLimit,
    ).toEqual({ perIp: 1, perAccount: 1, windowSeconds: 60 });
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '100000',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '86400',
      }).login.rateLimit,
    ).toEqual({ perIp: 100_000, perAccount: 1000, windowSeconds: 86_400 });
  });

  it.each([
    ['LOGIN_RATE_LIMIT_PER_IP', ['0', '-5', '100001', '2.5', 'thirty', 'Infinity'], '1 to 100000'],
    ['LOGIN_RATE_LIMIT_PER_ACCOUNT', ['0', '1001', '0.5', 'ten'], '1 to 1000'],
    ['LOGIN_RATE_LIMIT_WINDOW_SECONDS', ['59', '86401', '900.5', '15m'], '60 to 86400'],
  ])('refuses a bad %s with one line that names the range', (name, values, range) => {
    for (const value of values) {
      const problems = problemsOf({ [name]: value });
      expect(problems).toEqual([`${name}: must be a whole number from ${range}`]);
    }
  });

  it('reports every bad limit at once, without echoing the values', () => {
    const problems = problemsOf({
      LOGIN_RATE_LIMIT_PER_IP: '0',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: 'seventeen',
      LOGIN_RATE_LIMIT_WINDOW_SECONDS: '1',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'LOGIN_RATE_LIMIT_PER_IP',
      'LOGIN_RATE_LIMIT_PER_ACCOUNT',
      'LOGIN_RATE_LIMIT_WINDOW_SECONDS',
    ]);
    expect(problems.join('\n')).not.toContain('seventeen');
  });
});
