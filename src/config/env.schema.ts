import { z } from 'zod';

/** Empty strings count as unset, so `FOO=` in a .env file means "use the default". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const url = (what: string) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { message: `must be an absolute http(s) URL (${what})` },
  );

const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/**
 * A whole number within bounds, with one message for every way it can be wrong (not a number,
 * a fraction, out of range). The value itself is never echoed.
 */
const wholeNumber = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce
    .number({ error: message })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, { message });
};

/** The message of a secret that is too short: why, and how to make a good one. */
const SECRET_TOO_SHORT =
  'must be at least 32 characters (shorter ones can be guessed), e.g. the output of `openssl rand -base64 48`';

/** Sign-in rate limits of the local strategy when LOGIN_RATE_LIMIT_* are unset. */
export const LOGIN_RATE_LIMIT_DEFAULTS = {
  perIp: 30,
  perAccount: 100,
  perAccountAndIp: 10,
  windowSeconds: 15 * 60,
  perSecond: 100,
} as const;

/** Claims AuthKit sets itself: a consent option may not name them. */
const RESERVED_CLAIMS = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'sid',
  'scope',
  'client_id',
  'org_id',
];

/**
 * Proxy mode: the scopes each upstream tool needs, `{"tool_name":["scope", …]}`, checked at boot.
 * Tool names as MCP allows them (1-128 of A-Z a-z 0-9 _ . -), scopes as OAuth scope tokens.
 */
const upstreamToolScopes = z
  .string()
  .transform((v, ctx) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object {"tool_name":["scope", …]}' });
      return z.NEVER;
    }
    // An own "__proto__" key would vanish from the parsed record (and its tool go unchecked).
    if (typeof parsed === 'object' && parsed !== null && Object.hasOwn(parsed, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: 'a tool may not be named __proto__' });
      return z.NEVER;
    }
    return parsed;
  })
  .pipe(
    z.record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { message: 'tool names must be MCP tool names' }),
      z
        .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, { message: 'must be OAuth scope tokens' }))
        .max(50),
      {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? 'must be a JSON object {"tool_name":["scope", …]}'
            : issue.code === 'invalid_key'
              ? 'tool names must be MCP tool names (1-128 of A-Z a-z 0-9 _ . -)'
              : undefined,
      },
    ),
  );

/** `user_consent_options` sent with every completion: a JSON array, checked at boot. */
const userConsentOptions = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of consent options' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z.object({
          claim: z
            .string()
            .regex(/^[A-Za-z0-9_:./-]{1,100}$/, { message: 'claim must be a plain claim name' })
            .refine((c) => !RESERVED_CLAIMS.includes(c), {
              message: 'claim must not be a reserved JWT claim',
            }),
          type: z.literal('enum'),
          label: z.string().min(1).max(100),
          choices: z
            .array(z.object({ value: z.string().min(1).max(100), label: z.string().min(1).max(100) }))
            .min(1)
            .max(50),
        }),
      )
      .max(10),
  );

/**
 * Every environment variable the service reads, as documented in .env.example and
 * ../shared/INTERFACE.md. Cross-field rules live in app-config.ts.
 */
export const envSchema = z.object({
  NODE_ENV: optional(z.enum(['development', 'test', 'production'])).default('development'),
  PORT: optional(wholeNumber(0, 65_535)).default(3000),
  HOST: optional(
    z.string().regex(/^[A-Za-z0-9.:-]{1,255}$/, {
      message: 'must be an address or host name, e.g. 0.0.0.0 or 127.0.0.1',
    }),
  ),
  PUBLIC_URL: optional(url('the public origin, e.g. https://bridge.example.com')),
  DATABASE_URL: optional(
    z.string().regex(/^postgres(ql)?:\/\//, {
      message:
        'must start with postgresql:// (unset = embedded PGlite), e.g. postgresql://bridge@db.internal:5432/bridge?sslmode=require',
    }),
  ),
  PGLITE_DATA_DIR: optional(z.string()).default('.data/pglite'),
  DATABASE_AUTO_MIGRATE: optional(z.enum(['true', 'false']).transform((v) => v === 'true')),
  ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: optional(
    z.enum(['true', 'false']).transform((v) => v === 'true'),
  ).default(false),
  WORKOS_API_KEY: optional(
    z.string().regex(/^sk_[A-Za-z0-9_]+$/, {
      message: 'must be a WorkOS secret key, e.g. sk_live_… (WorkOS dashboard, API Keys)',
    }),
  ),
  WORKOS_CLIENT_ID: optional(
    z.string().regex(/^client_[A-Za-z0-9_]+$/, {
      message: 'must be a WorkOS client id, e.g. client_01H… (WorkOS dashboard)',
    }),
  ),
  WORKOS_API_URL: optional(url('base URL of the WorkOS API, e.g. https://api.workos.com')).default(
    'https://api.workos.com',
  ),
  AUTHKIT_DOMAIN: optional(url('the AuthKit issuer, e.g. https://acme.authkit.app')),
  EMULATOR_PORT: optional(wholeNumber(0, 65_535)).default(4100),
  MCP_AUDIENCE: optional(csv),
  MCP_UPSTREAM_URL: optional(url('the upstream MCP server, e.g. https://mcp.internal.example.com/mcp')),
  MCP_ALLOWED_ORIGINS: optional(csv),
  MCP_SCOPES: optional(
    z
      .string()
      .transform((v) => v.split(/[\s,]+/).filter(Boolean))
      .pipe(
        z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, { message: 'must be OAuth scope tokens' })),
      ),
  ),
  MCP_RESOURCE_NAME: optional(z.string().min(1).max(200)).default('connect-bridge'),
  MCP_DOCUMENTATION_URL: optional(
    url('documentation for people connecting MCP clients, e.g. https://docs.example.com/mcp'),
  ),
  MCP_UPSTREAM_SECRET: optional(z.string().min(32, { message: SECRET_TOO_SHORT })),
  MCP_UPSTREAM_TOOL_SCOPES: optional(upstreamToolScopes),
  SESSION_SECRET: optional(z.string().min(32, { message: SECRET_TOO_SHORT })),
  LEGACY_AUTH_STRATEGY: optional(z.enum(['local', 'session-introspection', 'jwt-cookie'])).default('local'),
  LEGACY_SESSION_URL: optional(
    url('legacy session introspection endpoint, e.g. https://app.example.com/api/session'),
  ),
  LEGACY_LOGIN_URL: optional(url('legacy login page, e.g. https://app.example.com/login')),
  LEGACY_RETURN_TO_PARAM: optional(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/)).default('return_to'),
  LEGACY_COOKIE_NAMES: optional(csv),
  LEGACY_TIMEOUT_MS: optional(z.coerce.number().int().min(100).max(30000)).default(3000),
  LEGACY_JWT_COOKIE: optional(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)).default('session'),
  LEGACY_JWT_SECRET: optional(z.string().min(32, { message: `${SECRET_TOO_SHORT} (HS256)` })),
  LEGACY_JWT_JWKS_URL: optional(
    url('JWKS of the legacy app, e.g. https://app.example.com/.well-known/jwks.json'),
  ),
  LEGACY_JWT_ALGORITHMS: optional(csv),
  LEGACY_JWT_ISSUER: optional(z.string()),
  LEGACY_JWT_AUDIENCE: optional(z.string()),
  LEGACY_JWT_MAX_AGE_SECONDS: optional(wholeNumber(60, 2_592_000)).default(86_400),
  LEGACY_JWT_TYP: optional(
    z.string().regex(/^[A-Za-z0-9!#$&^_.+/-]{1,100}$/, {
      message: 'must be a media type such as JWT or legacy-session+jwt (unset = not checked)',
    }),
  ),
  LEGACY_JWT_CLAIM_ID: optional(z.string()).default('sub'),
  LEGACY_JWT_CLAIM_EMAIL: optional(z.string()).default('email'),
  LEGACY_JWT_CLAIM_FIRST_NAME: optional(z.string()).default('given_name'),
  LEGACY_JWT_CLAIM_LAST_NAME: optional(z.string()).default('family_name'),
  LEGACY_JWT_CLAIM_ROLES: optional(z.string()).default('roles'),
  LEGACY_JWT_CLAIM_TENANTS: optional(z.string()).default('tenants'),
  LEGACY_USER_URL: optional(
    url(
      "the legacy app's user endpoint with {id} in it, e.g. https://app.example.com/api/bridge/users/{id}",
    ).refine((v) => v.includes('{id}'), {
      message:
        'must contain {id} (where the legacy user id goes), e.g. https://app.example.com/api/bridge/users/{id}',
    }),
  ),
  LEGACY_USER_TOKEN: optional(z.string().min(32, { message: 'must be at least 32 characters' })),
  LEGACY_USER_RECHECK_SECONDS: optional(wholeNumber(10, 86_400)).default(300),
  LEGACY_LOGOUT_URL: optional(
    url('legacy sign-out page used by "Use another account", e.g. https://app.example.com/logout'),
  ),
  LOGIN_TRANSACTION_TTL_SECONDS: optional(z.coerce.number().int().min(60).max(3600)).default(600),
  SESSION_MAX_AGE_HOURS: optional(z.coerce.number().int().min(1).max(720)).default(12),
  AUTHKIT_COMPLETE_TIMEOUT_MS: optional(z.coerce.number().int().min(1000).max(60000)).default(10000),
  AUTHKIT_USER_CONSENT_OPTIONS: optional(userConsentOptions),
  LOGIN_CONFIRM_CONNECT: optional(z.enum(['true', 'false']).transform((v) => v === 'true')).default(true),
  LOGIN_RATE_LIMIT_PER_IP: optional(wholeNumber(1, 100_000)).default(LOGIN_RATE_LIMIT_DEFAULTS.perIp),
  LOGIN_RATE_LIMIT_PER_ACCOUNT: optional(wholeNumber(1, 1_000)).default(LOGIN_RATE_LIMIT_DEFAULTS.perAccount),
  LOGIN_RATE_LIMIT_WINDOW_SECONDS: optional(wholeNumber(60, 86_400)).default(
    LOGIN_RATE_LIMIT_DEFAULTS.windowSeconds,
  ),
  LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: optional(wholeNumber(1, 1_000)).default(
    LOGIN_RATE_LIMIT_DEFAULTS.perAccountAndIp,
  ),
  LOGIN_RATE_LIMIT_PER_SECOND: optional(wholeNumber(1, 100_000)).default(LOGIN_RATE_LIMIT_DEFAULTS.perSecond),
  RATE_LIMIT_IPV6_PREFIX: optional(wholeNumber(16, 128)).default(64),
  PASSWORD_HASH_CONCURRENCY: optional(wholeNumber(1, 64)).default(2),
  PASSWORD_HASH_QUEUE: optional(wholeNumber(0, 10_000)).default(32),
  ADMIN_API_TOKEN: optional(z.string().min(32, { message: SECRET_TOO_SHORT })),
  ADMIN_API_RATE_LIMIT_PER_MINUTE: optional(wholeNumber(1, 100_000)).default(120),
  MCP_ALLOW_UNLINKED_USERS: optional(z.enum(['true', 'false']).transform((v) => v === 'true')).default(false),
  MCP_REQUEST_OFFLINE_ACCESS: optional(z.enum(['true', 'false']).transform((v) => v === 'true')).default(
    false,
  ),
  GRANT_REVOCATION_POLL_MS: optional(wholeNumber(100, 4_000)).default(1_000),
  GRANT_LAST_USED_FLUSH_SECONDS: optional(wholeNumber(1, 3_600)).default(30),
  TRUST_PROXY: optional(z.string()).default('false'),
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  LOG_FORMAT: optional(z.enum(['json', 'pretty'])),
  LOG_SAMPLE_MCP_SUCCESS: optional(
    z.coerce
      .number({ error: 'must be a number from 0 to 1' })
      .refine((n) => n >= 0 && n <= 1, { message: 'must be a number from 0 to 1' }),
  ).default(1),
  SHUTDOWN_TIMEOUT_MS: optional(z.coerce.number().int().min(0).max(120000)).default(10000),
});

export type RawEnv = z.infer<typeof envSchema>;

/**
 * A good value of every variable, named in its configuration error when the message carries no
 * example of its own ("PORT: … , e.g. PORT=3000"). A new variable in envSchema needs one here.
 */
export const ENV_EXAMPLES = {
  NODE_ENV: 'production',
  PORT: '3000',
  HOST: '0.0.0.0',
  PUBLIC_URL: 'https://bridge.example.com',
  DATABASE_URL: 'postgresql://bridge:…@db.internal:5432/bridge?sslmode=require',
  PGLITE_DATA_DIR: '.data/pglite',
  DATABASE_AUTO_MIGRATE: 'false',
  ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION: 'true',
  WORKOS_API_KEY: 'sk_live_…',
  WORKOS_CLIENT_ID: 'client_01H…',
  WORKOS_API_URL: 'https://api.workos.com',
  AUTHKIT_DOMAIN: 'https://acme.authkit.app',
  EMULATOR_PORT: '4100',
  MCP_AUDIENCE: 'https://bridge.example.com/mcp',
  MCP_UPSTREAM_URL: 'https://mcp.internal.example.com/mcp',
  MCP_ALLOWED_ORIGINS: 'http://localhost:6274',
  MCP_SCOPES: 'openid profile email',
  MCP_RESOURCE_NAME: 'Acme tools',
  MCP_DOCUMENTATION_URL: 'https://docs.example.com/mcp',
  MCP_UPSTREAM_SECRET: '$(openssl rand -base64 48)',
  MCP_UPSTREAM_TOOL_SCOPES: '{"create_invoice":["invoices:write"]}',
  SESSION_SECRET: '$(openssl rand -base64 48)',
  LEGACY_AUTH_STRATEGY: 'session-introspection',
  LEGACY_SESSION_URL: 'https://app.example.com/api/session',
  LEGACY_LOGIN_URL: 'https://app.example.com/login',
  LEGACY_RETURN_TO_PARAM: 'return_to',
  LEGACY_COOKIE_NAMES: 'app_session',
  LEGACY_TIMEOUT_MS: '3000',
  LEGACY_JWT_COOKIE: 'session',
  LEGACY_JWT_SECRET: '$(openssl rand -base64 48)',
  LEGACY_JWT_JWKS_URL: 'https://app.example.com/.well-known/jwks.json',
  LEGACY_JWT_ALGORITHMS: 'RS256',
  LEGACY_JWT_ISSUER: 'https://app.example.com',
  LEGACY_JWT_AUDIENCE: 'connect-bridge',
  LEGACY_JWT_MAX_AGE_SECONDS: '86400',
  LEGACY_JWT_TYP: 'JWT',
  LEGACY_JWT_CLAIM_ID: 'sub',
  LEGACY_JWT_CLAIM_EMAIL: 'email',
  LEGACY_JWT_CLAIM_FIRST_NAME: 'given_name',
  LEGACY_JWT_CLAIM_LAST_NAME: 'family_name',
  LEGACY_JWT_CLAIM_ROLES: 'roles',
  LEGACY_JWT_CLAIM_TENANTS: 'tenants',
  LEGACY_USER_URL: 'https://app.example.com/api/bridge/users/{id}',
  LEGACY_USER_TOKEN: '$(openssl rand -base64 48)',
  LEGACY_USER_RECHECK_SECONDS: '300',
  LEGACY_LOGOUT_URL: 'https://app.example.com/logout',
  LOGIN_TRANSACTION_TTL_SECONDS: '600',
  SESSION_MAX_AGE_HOURS: '12',
  AUTHKIT_COMPLETE_TIMEOUT_MS: '10000',
  AUTHKIT_USER_CONSENT_OPTIONS:
    '[{"claim":"urn:acme:env","type":"enum","label":"Environment","choices":[{"value":"prod","label":"Production"}]}]',
  LOGIN_CONFIRM_CONNECT: 'true',
  LOGIN_RATE_LIMIT_PER_IP: String(LOGIN_RATE_LIMIT_DEFAULTS.perIp),
  LOGIN_RATE_LIMIT_PER_ACCOUNT: String(LOGIN_RATE_LIMIT_DEFAULTS.perAccount),
  LOGIN_RATE_LIMIT_WINDOW_SECONDS: String(LOGIN_RATE_LIMIT_DEFAULTS.windowSeconds),
  LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP: String(LOGIN_RATE_LIMIT_DEFAULTS.perAccountAndIp),
  LOGIN_RATE_LIMIT_PER_SECOND: String(LOGIN_RATE_LIMIT_DEFAULTS.perSecond),
  RATE_LIMIT_IPV6_PREFIX: '64',
  PASSWORD_HASH_CONCURRENCY: '2',
  PASSWORD_HASH_QUEUE: '32',
  ADMIN_API_TOKEN: '$(openssl rand -base64 48)',
  ADMIN_API_RATE_LIMIT_PER_MINUTE: '120',
  MCP_ALLOW_UNLINKED_USERS: 'false',
  MCP_REQUEST_OFFLINE_ACCESS: 'false',
  GRANT_REVOCATION_POLL_MS: '1000',
  GRANT_LAST_USED_FLUSH_SECONDS: '30',
  TRUST_PROXY: 'loopback',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  LOG_SAMPLE_MCP_SUCCESS: '0.1',
  SHUTDOWN_TIMEOUT_MS: '10000',
} satisfies Record<keyof typeof envSchema.shape, string>;
