import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, loadConfig } from './app-config';
import { ENV_EXAMPLES, envSchema } from './env.schema';

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
      expect.stringMatching(/^PUBLIC_URL: must be https:\/\/ in production .*e\.g\. https:\/\/bridge/),
      expect.stringMatching(/^WORKOS_API_URL: must be https:\/\/ in production .*e\.g\. https:\/\/api/),
      expect.stringMatching(/^AUTHKIT_DOMAIN: must be https:\/\/ in production .*e\.g\. https:\/\/acme/),
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
      expect.stringMatching(/^WORKOS_CLIENT_ID: required when WORKOS_API_KEY is set .*e\.g\. client_/),
      expect.stringMatching(/^AUTHKIT_DOMAIN: required when WORKOS_API_KEY is set .*e\.g\. https:/),
    ]);
  });

  it('rejects an AuthKit domain with a trailing slash (issuer comparison is byte for byte)', () => {
    expect(problemsOf({ ...full, AUTHKIT_DOMAIN: 'https://acme.authkit.app/' })).toEqual([
      'AUTHKIT_DOMAIN: must not end with "/" (it is compared byte for byte with the issuer), e.g. https://acme.authkit.app',
    ]);
  });

  it('checks what each legacy strategy needs', () => {
    expect(problemsOf({ LEGACY_AUTH_STRATEGY: 'session-introspection' })).toEqual([
      expect.stringMatching(
        /^LEGACY_SESSION_URL: required for LEGACY_AUTH_STRATEGY=session-introspection .*e\.g\. /,
      ),
      expect.stringMatching(
        /^LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=session-introspection .*e\.g\. /,
      ),
    ]);
    expect(
      problemsOf({ LEGACY_AUTH_STRATEGY: 'jwt-cookie', LEGACY_LOGIN_URL: 'http://legacy/login' }),
    ).toEqual([
      expect.stringMatching(
        /^LEGACY_JWT_SECRET: set it \(HS256\) or LEGACY_JWT_JWKS_URL for LEGACY_AUTH_STRATEGY=jwt-cookie .*e\.g\. /,
      ),
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

describe('LOGIN_CONFIRM_CONNECT', () => {
  it('asks a signed-out person before the legacy login unless set to false', () => {
    expect(loadConfig({}).login.confirmConnect).toBe(true);
    expect(loadConfig({ LOGIN_CONFIRM_CONNECT: '' }).login.confirmConnect).toBe(true);
    expect(loadConfig({ LOGIN_CONFIRM_CONNECT: 'false' }).login.confirmConnect).toBe(false);
    expect(problemsOf({ LOGIN_CONFIRM_CONNECT: 'no' })).toEqual([
      expect.stringMatching(/^LOGIN_CONFIRM_CONNECT: /),
    ]);
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

describe('every problem in one round', () => {
  const nameOf = (p: string) => p.slice(0, p.indexOf(':'));

  it('a production environment missing everything lists every problem at once, each with the variable, why and an example', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      LEGACY_AUTH_STRATEGY: 'session-introspection',
      TRUST_PROXY: 'true',
    });
    expect(problems.map(nameOf).sort()).toEqual(
      [
        'AUTHKIT_DOMAIN',
        'DATABASE_URL',
        'LEGACY_COOKIE_NAMES',
        'LEGACY_LOGIN_URL',
        'LEGACY_SESSION_URL',
        'PUBLIC_URL',
        'SESSION_SECRET',
        'TRUST_PROXY',
        'WORKOS_API_KEY',
        'WORKOS_CLIENT_ID',
      ].sort(),
    );
    for (const p of problems) {
      expect(p).toMatch(/^[A-Z][A-Z0-9_]+: \S/);
      expect(p).toMatch(/e\.g\. \S/);
      expect(p.length).toBeGreaterThan(60);
    }
  });

  it('reports malformed variables and the rules between variables together, never twice for one variable', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      PORT: 'eighty',
      PUBLIC_URL: 'http://bridge.example.com',
      SESSION_SECRET: 'short-secret',
      WORKOS_API_KEY: 'pk_live_1',
      MCP_UPSTREAM_URL: 'not a url',
      LOGIN_RATE_LIMIT_PER_IP: '0',
    });
    expect(problems.map(nameOf)).toEqual([
      // each variable's own check …
      'PORT',
      'WORKOS_API_KEY',
      'MCP_UPSTREAM_URL',
      'SESSION_SECRET',
      'LOGIN_RATE_LIMIT_PER_IP',
      // … then the rules between them, on what did parse (a malformed variable counts as unset,
      // but is never called "required": SESSION_SECRET and WORKOS_API_KEY appear once)
      'PUBLIC_URL',
      'MCP_UPSTREAM_SECRET',
      'WORKOS_CLIENT_ID',
      'AUTHKIT_DOMAIN',
      'DATABASE_URL',
    ]);
    expect(problems.find((p) => p.startsWith('PORT:'))).toMatch(/, e\.g\. PORT=3000$/);
    expect(problems.find((p) => p.startsWith('LOGIN_RATE_LIMIT_PER_IP:'))).toMatch(
      /from 1 to 100000, e\.g\. LOGIN_RATE_LIMIT_PER_IP=30$/,
    );
    expect(problems.join('\n')).not.toMatch(/short-secret|pk_live_1|eighty|not a url/);
  });

  it('names an example in the message of every variable that fails its own check', () => {
    const malformed: Record<string, string> = {
      NODE_ENV: 'staging',
      PORT: '-1',
      EMULATOR_PORT: 'x',
      DATABASE_AUTO_MIGRATE: 'yes',
      ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'yes',
      LOG_LEVEL: 'loud',
      LEGACY_AUTH_STRATEGY: 'ldap',
      LEGACY_TIMEOUT_MS: '5',
      LEGACY_RETURN_TO_PARAM: 'a b',
      SESSION_MAX_AGE_HOURS: '0',
      SHUTDOWN_TIMEOUT_MS: 'soon',
      MCP_RESOURCE_NAME: 'x'.repeat(300),
      LOGIN_CONFIRM_CONNECT: 'no',
    };
    const problems = problemsOf(malformed);
    expect(problems.map(nameOf).sort()).toEqual(Object.keys(malformed).sort());
    for (const p of problems) expect(p).toMatch(/e\.g\. \S/);
  });

  it('has an example for every variable', () => {
    expect(Object.keys(ENV_EXAMPLES).sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});

describe('the embedded database in production', () => {
  const embedded: Record<string, string> = { ...full };
  delete embedded.DATABASE_URL;

  it('is refused unless ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true, saying why and what to set', () => {
    expect(problemsOf(embedded)).toEqual([
      expect.stringMatching(
        /^DATABASE_URL: required in production \(.*one process.*no backups.*\), e\.g\. postgresql:\/\/.*ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true/,
      ),
    ]);
    expect(problemsOf({ ...embedded, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'false' })).toHaveLength(1);
    const c = loadConfig({ ...embedded, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true' });
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '.data/pglite', autoMigrate: true });
    // outside production the embedded database needs no opt-in
    expect(loadConfig({ ...embedded, NODE_ENV: 'test' }).database.kind).toBe('pglite');
  });
});

describe('.env.production.example', () => {
  const template = parseEnv(readFileSync(join(__dirname, '..', '..', '.env.production.example'), 'utf8'));
  /** What an operator fills in: one valid value for each variable the template leaves empty. */
  const filled: Record<string, string> = {
    PUBLIC_URL: 'https://bridge.example.com',
    DATABASE_URL: 'postgresql://bridge:secret@db.internal:5432/bridge?sslmode=require',
    WORKOS_API_KEY: 'sk_live_1',
    WORKOS_CLIENT_ID: 'client_1',
    AUTHKIT_DOMAIN: 'https://acme.authkit.app',
    SESSION_SECRET: 's'.repeat(48),
    LEGACY_SESSION_URL: 'https://app.example.com/api/session',
    LEGACY_LOGIN_URL: 'https://app.example.com/login',
    LEGACY_LOGOUT_URL: 'https://app.example.com/logout',
    LEGACY_COOKIE_NAMES: 'app_session',
    ADMIN_API_TOKEN: 'a'.repeat(48),
  };

  it('names only variables the service reads, and is production', () => {
    expect(Object.keys(template).filter((k) => !(k in envSchema.shape))).toEqual([]);
    expect(template.NODE_ENV).toBe('production');
  });

  it('as copied, production refuses it, naming every empty variable it needs in one round', () => {
    const needed = problemsOf(template)
      .map((p) => p.slice(0, p.indexOf(':')))
      .sort();
    const empty = Object.keys(template).filter((k) => template[k] === '');
    expect(needed.every((k) => empty.includes(k))).toBe(true);
    expect(needed).toEqual(
      [
        'AUTHKIT_DOMAIN',
        'DATABASE_URL',
        'LEGACY_COOKIE_NAMES',
        'LEGACY_LOGIN_URL',
        'LEGACY_SESSION_URL',
        'PUBLIC_URL',
        'SESSION_SECRET',
        'WORKOS_API_KEY',
        'WORKOS_CLIENT_ID',
      ].sort(),
    );
  });

  it('filled in, is a complete production configuration for a real WorkOS environment on PostgreSQL', () => {
    const empty = Object.keys(template).filter((k) => template[k] === '');
    expect(empty.filter((k) => !(k in filled))).toEqual([]);
    const c = loadConfig({ ...template, ...filled });
    expect(c).toMatchObject({ production: true, demo: false, secureCookies: true });
    expect(c.database.kind).toBe('postgres');
    expect(c.trustProxy).not.toBe(false);
    expect(c.legacy.strategy).toBe('session-introspection');
  });
});

describe('LOGIN_RATE_LIMIT_*', () => {
  const defaults = { perIp: 30, perAccount: 100, perAccountAndIp: 10, windowSeconds: 900, perSecond: 100 };

  it('defaults to 30 attempts per address, 10 per account and address, 100 per account per 15 minutes, 100/s', () => {
    expect(loadConfig({}).login.rateLimit).toEqual(defaults);
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: ' ',
        LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: '',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '',
        LOGIN_RATE_LIMIT_PER_SECOND: '',
      }).login.rateLimit,
    ).toEqual(defaults);
  });

  it('takes each limit and the window from the environment, bounds included', () => {
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '200',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '5',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '3600',
      }).login.rateLimit,
    ).toEqual({ ...defaults, perIp: 200, perAccount: 5, windowSeconds: 3600 });
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '1',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '1',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '60',
        LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: '1',
        LOGIN_RATE_LIMIT_PER_SECOND: '1',
      }).login.rateLimit,
    ).toEqual({ perIp: 1, perAccount: 1, perAccountAndIp: 1, windowSeconds: 60, perSecond: 1 });
    expect(
      loadConfig({
        LOGIN_RATE_LIMIT_PER_IP: '100000',
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000',
        LOGIN_RATE_LIMIT_WINDOW_SECONDS: '86400',
        LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: '1000',
        LOGIN_RATE_LIMIT_PER_SECOND: '100000',
      }).login.rateLimit,
    ).toEqual({
      perIp: 100_000,
      perAccount: 1000,
      perAccountAndIp: 1000,
      windowSeconds: 86_400,
      perSecond: 100_000,
    });
  });

  it.each([
    ['LOGIN_RATE_LIMIT_PER_IP', ['0', '-5', '100001', '2.5', 'thirty', 'Infinity'], '1 to 100000'],
    ['LOGIN_RATE_LIMIT_PER_ACCOUNT', ['0', '1001', '0.5', 'ten'], '1 to 1000'],
    ['LOGIN_RATE_LIMIT_WINDOW_SECONDS', ['59', '86401', '900.5', '15m'], '60 to 86400'],
    ['LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP', ['0', '1001', '2.5', 'ten'], '1 to 1000'],
    ['LOGIN_RATE_LIMIT_PER_SECOND', ['0', '100001', '0.5', 'fast'], '1 to 100000'],
    ['RATE_LIMIT_IPV6_PREFIX', ['0', '15', '129', '64.5', '/64'], '16 to 128'],
    ['PASSWORD_HASH_CONCURRENCY', ['0', '65', '1.5', 'two'], '1 to 64'],
    ['PASSWORD_HASH_QUEUE', ['-1', '10001', '3.5', 'many'], '0 to 10000'],
  ])('refuses a bad %s with one line that names the range', (name, values, range) => {
    for (const value of values) {
      const problems = problemsOf({ [name]: value });
      expect(problems).toEqual([
        expect.stringMatching(
          new RegExp(`^${name}: must be a whole number from ${range}, e\\.g\\. ${name}=\\d+$`),
        ),
      ]);
    }
  });

  it('keys IPv6 clients by /64 unless RATE_LIMIT_IPV6_PREFIX says otherwise', () => {
    expect(loadConfig({}).rateLimitIpv6Prefix).toBe(64);
    expect(loadConfig({ RATE_LIMIT_IPV6_PREFIX: '48' }).rateLimitIpv6Prefix).toBe(48);
    expect(loadConfig({ RATE_LIMIT_IPV6_PREFIX: '128' }).rateLimitIpv6Prefix).toBe(128);
  });

  it('caps password hashing at 2 at once with 32 waiting unless PASSWORD_HASH_* say otherwise', () => {
    expect(loadConfig({}).login.passwordHashing).toEqual({ concurrency: 2, queue: 32 });
    expect(
      loadConfig({ PASSWORD_HASH_CONCURRENCY: '8', PASSWORD_HASH_QUEUE: '0' }).login.passwordHashing,
    ).toEqual({ concurrency: 8, queue: 0 });
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

describe('production hardening of the legacy strategies and TRUST_PROXY', () => {
  const jwtCookie = {
    ...full,
    LEGACY_AUTH_STRATEGY: 'jwt-cookie',
    LEGACY_LOGIN_URL: 'https://app.example.com/login',
    LEGACY_JWT_SECRET: 's'.repeat(32),
  };
  const introspection = {
    ...full,
    LEGACY_AUTH_STRATEGY: 'session-introspection',
    LEGACY_SESSION_URL: 'https://app.example.com/api/session',
    LEGACY_LOGIN_URL: 'https://app.example.com/login',
  };

  it('jwt-cookie: refuses production without LEGACY_JWT_ISSUER and LEGACY_JWT_AUDIENCE, saying why and how', () => {
    const problems = problemsOf(jwtCookie);
    expect(problems).toEqual([
      expect.stringMatching(/^LEGACY_JWT_ISSUER: required in production .*e\.g\. /),
      expect.stringMatching(/^LEGACY_JWT_AUDIENCE: required in production .*e\.g\. /),
    ]);
    expect(
      problemsOf({ ...jwtCookie, LEGACY_JWT_ISSUER: 'https://app.example.com' }).map((p) => p.split(':')[0]),
    ).toEqual(['LEGACY_JWT_AUDIENCE']);
    const c = loadConfig({
      ...jwtCookie,
      LEGACY_JWT_ISSUER: 'https://app.example.com',
      LEGACY_JWT_AUDIENCE: 'connect-bridge',
    });
    expect(c.legacy.jwt).toMatchObject({ issuer: 'https://app.example.com', audience: 'connect-bridge' });
    // outside production: accepted (a boot warning says what is missing)
    expect(loadConfig({ ...jwtCookie, NODE_ENV: 'development' }).legacy.jwt.issuer).toBeUndefined();
  });

  it('jwt-cookie: LEGACY_JWT_MAX_AGE_SECONDS defaults to a day; LEGACY_JWT_TYP is unset (not checked)', () => {
    expect(loadConfig({}).legacy.jwt).toMatchObject({ maxAgeSeconds: 86_400, typ: undefined });
    expect(
      loadConfig({ LEGACY_JWT_MAX_AGE_SECONDS: '3600', LEGACY_JWT_TYP: 'legacy-session+jwt' }).legacy.jwt,
    ).toMatchObject({ maxAgeSeconds: 3600, typ: 'legacy-session+jwt' });
    for (const bad of ['0', '59', '2592001', '1.5', 'a day']) {
      expect(problemsOf({ LEGACY_JWT_MAX_AGE_SECONDS: bad })).toEqual([
        'LEGACY_JWT_MAX_AGE_SECONDS: must be a whole number from 60 to 2592000, e.g. LEGACY_JWT_MAX_AGE_SECONDS=86400',
      ]);
    }
    for (const bad of ['JWT JWT', 'a"b', 'x'.repeat(200)]) {
      expect(problemsOf({ LEGACY_JWT_TYP: bad })).toEqual([expect.stringMatching(/^LEGACY_JWT_TYP: /)]);
    }
  });

  it('session-introspection: refuses production without LEGACY_COOKIE_NAMES, saying why and how', () => {
    expect(problemsOf(introspection)).toEqual([
      expect.stringMatching(
        /^LEGACY_COOKIE_NAMES: required in production for LEGACY_AUTH_STRATEGY=session-introspection .*e\.g\. /,
      ),
    ]);
    expect(loadConfig({ ...introspection, LEGACY_COOKIE_NAMES: 'app_session' }).legacy.cookieNames).toEqual([
      'app_session',
    ]);
    expect(loadConfig({ ...introspection, NODE_ENV: 'test' }).legacy.cookieNames).toBeUndefined();
    // never the bridge's own cookies, in any environment
    expect(
      problemsOf({ ...introspection, NODE_ENV: 'test', LEGACY_COOKIE_NAMES: 'app_session,cbridge_tx_abc' }),
    ).toEqual([
      expect.stringMatching(/^LEGACY_COOKIE_NAMES: must not name the bridge's own cookies .*e\.g\. /),
    ]);
  });

  it('refuses TRUST_PROXY=true in production, saying why and how', () => {
    for (const value of ['true', 'TRUE', ' True ']) {
      expect(problemsOf({ ...full, TRUST_PROXY: value })).toEqual([
        expect.stringMatching(/^TRUST_PROXY: .*production.*any client.*e\.g\. /),
      ]);
    }
    expect(loadConfig({ ...full, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ ...full, TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(loadConfig({ ...full, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe(
      'loopback, 10.0.0.0/8',
    );
    expect(loadConfig({ ...full, TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    // outside production, true is still accepted (local setups, tests)
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
  });

  it('refuses a TRUST_PROXY that Express would choke on at boot, naming what it accepts', () => {
    for (const value of [
      'yes',
      'loopback;10.0.0.1',
      '10.0.0.300',
      'proxy.example.com',
      '0.0.0.0/0',
      '::/0',
      '10.0.0.1/33',
      '1, loopback',
    ]) {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([expect.stringMatching(/^TRUST_PROXY: .*e\.g\. /)]);
    }
  });

  it('states the variable, the reason and an example in every production refusal', () => {
    const problems = [
      ...problemsOf({ NODE_ENV: 'production' }),
      ...problemsOf({
        ...full,
        PUBLIC_URL: 'http://bridge.example.com',
        AUTHKIT_DOMAIN: 'http://acme.authkit.app',
        WORKOS_API_URL: 'http://api.workos.com',
        MCP_UPSTREAM_URL: 'http://upstream.internal/mcp',
      }),
      ...problemsOf(jwtCookie),
      ...problemsOf(introspection),
      ...problemsOf({ ...full, TRUST_PROXY: 'true' }),
    ];
    expect(problems.length).toBeGreaterThanOrEqual(11);
    for (const p of problems) {
      expect(p).toMatch(/^[A-Z][A-Z0-9_]+: \S/); // the variable
      expect(p).toMatch(/e\.g\. \S/); // an example value
      expect(p.length).toBeGreaterThan(60); // and a reason, not just "required"
    }
  });
});
