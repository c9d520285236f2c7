import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { BRIDGE_COOKIE_PREFIX } from '../legacy-session/cookie-header';
import { ENV_EXAMPLES, envSchema, type RawEnv } from './env.schema';

export type LegacyStrategyName = 'local' | 'session-introspection' | 'jwt-cookie';

/** The typed configuration, built once at boot. Nothing else reads process.env. */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  production: boolean;
  /** No WORKOS_API_KEY: the embedded AuthKit emulator stands in for WorkOS. */
  demo: boolean;
  port: number;
  /** The address to listen on: HOST, else loopback in demo mode (it signs anyone in), else every interface. */
  host?: string;
  publicUrl: string;
  secureCookies: boolean;
  trustProxy: boolean | number | string;
  /** Leading bits of an IPv6 client address that every rate limit counts as one client. */
  rateLimitIpv6Prefix: number;
  /** LOG_LEVEL, else `warn` in demo mode (a quiet terminal) and `info` otherwise. */
  logLevel: NonNullable<RawEnv['LOG_LEVEL']>;
  /** LOG_FORMAT, else `pretty` (short human lines) under NODE_ENV=development and `json` otherwise. */
  logFormat: 'json' | 'pretty';
  /** The share of successful /mcp calls that get an access line (exact counts: /metrics). */
  logSampleMcpSuccess: number;
  shutdownTimeoutMs: number;
  database: ({ kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string }) & {
    autoMigrate: boolean;
  };
  session: { secret: string; generated: boolean };
  workos: { apiKey?: string; clientId?: string; apiUrl: string; authkitDomain?: string };
  /** Demo mode: the port of the embedded AuthKit emulator (EMULATOR_PORT). */
  emulatorPort: number;
  mcp: {
    audience: string[];
    upstreamUrl?: string;
    allowedOrigins: string[];
    /** Scopes clients are asked for (401 challenge, scopes_supported); never offline_access there. */
    scopes: string[];
    resourceName: string;
    documentationUrl: string;
    /** Proxy mode: signs the short-lived identity token the bridge sends upstream. */
    upstreamSecret?: string;
    /**
     * Proxy mode: the scopes each upstream tool needs (MCP_UPSTREAM_TOOL_SCOPES); a tools/call of
     * a listed tool without them is refused with 403 insufficient_scope. Unlisted tools need none.
     */
    upstreamToolScopes: Record<string, string[]>;
  };
  /** Grants: who may keep calling /mcp, and how revocation reaches every instance. */
  access: {
    /** The back-office admin API (/admin/*); off (404) when unset. */
    adminApiToken?: string;
    adminRateLimitPerMinute: number;
    /** Accept tokens of WorkOS users that never signed in through this bridge. */
    allowUnlinkedUsers: boolean;
    /** Ask clients for offline_access in the 401 challenge and scopes_supported. */
    requestOfflineAccess: boolean;
    /** How often each instance reads revocations from the database (the fallback to LISTEN). */
    revocationPollMs: number;
    /** How often the in-memory last-use times of grants are written (one statement). */
    lastUsedFlushSeconds: number;
  };
  /** The login bridge: transactions, the local strategy's sessions, the completion call. */
  login: {
    transactionTtlSeconds: number;
    sessionMaxAgeHours: number;
    completeTimeoutMs: number;
    userConsentOptions?: RawEnv['AUTHKIT_USER_CONSENT_OPTIONS'];
    /**
     * Show a signed-out person "An AI application is asking to connect to your account" (Continue /
     * Cancel) before sending them to the legacy login (LOGIN_CONFIRM_CONNECT).
     */
    confirmConnect: boolean;
    /**
     * Sign-in attempts at the local strategy's form within one window: per client address
     * (every attempt), per account and address (cleared by the right password) and per account
     * from all addresses (a browser that signed in as the account before is exempt); and per
     * second on this instance (in memory).
     */
    rateLimit: {
      perIp: number;
      perAccount: number;
      perAccountAndIp: number;
      windowSeconds: number;
      perSecond: number;
    };
    /** argon2 checks at once on this instance, and how many may wait; beyond: "busy" (429). */
    passwordHashing: { concurrency: number; queue: number };
  };
  legacy: {
    strategy: LegacyStrategyName;
    sessionUrl?: string;
    loginUrl?: string;
    logoutUrl?: string;
    /**
     * The legacy app's user endpoint (`{id}` replaced), asked about active callers at most every
     * `recheckSeconds`, with `Authorization: Bearer <userToken>`.
     */
    userUrl?: string;
    userToken?: string;
    recheckSeconds: number;
    returnToParam: string;
    cookieNames?: string[];
    timeoutMs: number;
    jwt: {
      cookie: string;
      secret?: string;
      jwksUrl?: string;
      algorithms: string[];
      issuer?: string;
      audience?: string;
      /** LEGACY_JWT_MAX_AGE_SECONDS: a token older than this (from its `iat`) is refused, whatever its `exp`. */
      maxAgeSeconds: number;
      /** LEGACY_JWT_TYP: the `typ` header required (unset: not checked). */
      typ?: string;
      claims: {
        id: string;
        email: string;
        firstName: string;
        lastName: string;
        roles: string;
        tenants: string;
      };
    };
  };
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    /** NODE_ENV=production was asked for (the start-up message names the mode it refused). */
    readonly production = false,
  ) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

const stripSlash = (u: string) => u.replace(/\/+$/, '');

/**
 * Validates the environment and returns the typed config, or throws one ConfigError that
 * lists every problem at once: each variable's own check and the rules between variables, in
 * one round, each naming the variable, the reason and an example. Values are never echoed
 * (they may be secrets).
 *
 * The rules between variables run on the variables that passed their own check: a malformed one
 * counts as unset there (it already has its problem), and no second problem is reported for a
 * variable that has one.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const malformed = new Map<string, string[]>();
  let parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '(environment)');
      const example = ENV_EXAMPLES[name as keyof typeof ENV_EXAMPLES];
      const message =
        example === undefined || issue.message.includes('e.g.')
          ? issue.message
          : `${issue.message}, e.g. ${name}=${example}`;
      malformed.set(name, [...(malformed.get(name) ?? []), `${name}: ${message}`]);
    }
    parsed = envSchema.safeParse(
      Object.fromEntries(Object.entries(env).filter(([name]) => !malformed.has(name))),
    );
    if (!parsed.success) throw new ConfigError([...malformed.values()].flat(), env.NODE_ENV === 'production');
  }
  const problems: string[] = [];
  const e = parsed.data;
  /** Set in the environment, well-formed or not ("required" is never said of a variable someone set). */
  const given = (name: keyof RawEnv) => e[name] !== undefined || malformed.has(name);
  const production = e.NODE_ENV === 'production';
  const demo = !e.WORKOS_API_KEY;
  const publicUrl = stripSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);

  const requireHttps = (name: string, value: string | undefined, example: string) => {
    if (production && value && !value.startsWith('https://'))
      problems.push(
        `${name}: must be https:// in production (over plain http, tokens and cookies can be read or changed on the way), e.g. ${example}`,
      );
  };
  if (production && demo) {
    problems.push(
      'WORKOS_API_KEY: required in production (without it the bridge runs the demo with its embedded AuthKit emulator, which is refused), e.g. sk_live_… from the WorkOS dashboard (API Keys)',
    );
  }
  if (production && !e.SESSION_SECRET)
    problems.push(
      `SESSION_SECRET: required in production (it signs the bridge's cookies and must be the same on every instance and across restarts): 32+ random characters, e.g. the output of \`openssl rand -base64 48\``,
    );
  if (production && !e.PUBLIC_URL)
    problems.push(
      'PUBLIC_URL: required in production (the only source of the public origin for redirects, cookies and the MCP resource; never the Host header), e.g. https://bridge.example.com',
    );
  requireHttps('PUBLIC_URL', e.PUBLIC_URL, 'https://bridge.example.com');
  requireHttps('WORKOS_API_URL', e.WORKOS_API_URL, 'https://api.workos.com');
  requireHttps('AUTHKIT_DOMAIN', e.AUTHKIT_DOMAIN, 'https://acme.authkit.app');
  requireHttps('LEGACY_SESSION_URL', e.LEGACY_SESSION_URL, 'https://app.example.com/api/session');
  requireHttps('LEGACY_LOGIN_URL', e.LEGACY_LOGIN_URL, 'https://app.example.com/login');
  requireHttps('LEGACY_LOGOUT_URL', e.LEGACY_LOGOUT_URL, 'https://app.example.com/logout');
  requireHttps('LEGACY_USER_URL', e.LEGACY_USER_URL, 'https://app.example.com/api/bridge/users/{id}');
  if (e.LEGACY_USER_URL && !e.LEGACY_USER_TOKEN)
    problems.push(
      'LEGACY_USER_TOKEN: required with LEGACY_USER_URL (the bridge authenticates to the legacy app with it), e.g. LEGACY_USER_TOKEN=$(openssl rand -base64 48)',
    );
  requireHttps('LEGACY_JWT_JWKS_URL', e.LEGACY_JWT_JWKS_URL, 'https://app.example.com/.well-known/jwks.json');
  requireHttps('MCP_UPSTREAM_URL', e.MCP_UPSTREAM_URL, 'https://mcp.internal.example.com/mcp');
  requireHttps('MCP_DOCUMENTATION_URL', e.MCP_DOCUMENTATION_URL, 'https://docs.example.com/mcp');
  if (e.MCP_UPSTREAM_TOOL_SCOPES && !given('MCP_UPSTREAM_URL')) {
    problems.push(
      'MCP_UPSTREAM_TOOL_SCOPES: only with MCP_UPSTREAM_URL (the scopes of upstream tools in proxy mode; local tools declare theirs with @McpTool)',
    );
  }
  if (given('MCP_UPSTREAM_URL') && !given('MCP_UPSTREAM_SECRET')) {
    problems.push(
      'MCP_UPSTREAM_SECRET: required with MCP_UPSTREAM_URL (signs the identity sent upstream): 32+ random characters, the same at the upstream, e.g. the output of `openssl rand -base64 48`',
    );
  }

  if (!demo || production) {
    // In production WORKOS_API_KEY is required too: all three are asked for in one round.
    const why = demo ? 'required in production' : 'required when WORKOS_API_KEY is set';
    if (!given('WORKOS_CLIENT_ID'))
      problems.push(
        `WORKOS_CLIENT_ID: ${why} (the environment whose AuthKit completes sign-ins), e.g. client_01H… from the WorkOS dashboard`,
      );
    if (!given('AUTHKIT_DOMAIN'))
      problems.push(
        `AUTHKIT_DOMAIN: ${why} (the issuer of the access tokens /mcp accepts), e.g. https://acme.authkit.app`,
      );
  }
  if (production && !given('DATABASE_URL') && !e.ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION)
    problems.push(
      'DATABASE_URL: required in production (without it the bridge runs on the embedded PGlite database, which serves this one process only, has no backups, and no second instance can share it), e.g. postgresql://bridge:…@db.internal:5432/bridge?sslmode=require; or, for a single-instance setup that accepts that, ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true',
    );
  if (e.AUTHKIT_DOMAIN && e.AUTHKIT_DOMAIN.endsWith('/')) {
    problems.push(
      'AUTHKIT_DOMAIN: must not end with "/" (it is compared byte for byte with the issuer), e.g. https://acme.authkit.app',
    );
  }

  const strategy = e.LEGACY_AUTH_STRATEGY;
  if (strategy === 'session-introspection') {
    if (!e.LEGACY_SESSION_URL)
      problems.push(
        'LEGACY_SESSION_URL: required for LEGACY_AUTH_STRATEGY=session-introspection (where the bridge asks who is signed in), e.g. https://app.example.com/api/session',
      );
    if (!e.LEGACY_LOGIN_URL)
      problems.push(
        'LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=session-introspection (where a signed-out browser is sent), e.g. https://app.example.com/login',
      );
    const bridgeOwn = (e.LEGACY_COOKIE_NAMES ?? []).filter((n) => n.startsWith(BRIDGE_COOKIE_PREFIX));
    if (bridgeOwn.length)
      problems.push(
        `LEGACY_COOKIE_NAMES: must not name the bridge's own cookies (${BRIDGE_COOKIE_PREFIX}*: they hold its sign-in state and never go to the legacy app), e.g. app_session`,
      );
    if (production && !e.LEGACY_COOKIE_NAMES?.length)
      problems.push(
        "LEGACY_COOKIE_NAMES: required in production for LEGACY_AUTH_STRATEGY=session-introspection (without it every cookie of the domain, analytics ids and other apps' tokens included, is sent to LEGACY_SESSION_URL): name only the session cookie, e.g. app_session",
      );
  }
  const jwtAlgorithms = e.LEGACY_JWT_ALGORITHMS ?? (e.LEGACY_JWT_JWKS_URL ? ['RS256'] : ['HS256']);
  if (strategy === 'jwt-cookie') {
    if (!e.LEGACY_LOGIN_URL)
      problems.push(
        'LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=jwt-cookie (where a signed-out browser is sent), e.g. https://app.example.com/login',
      );
    if (!given('LEGACY_JWT_SECRET') && !given('LEGACY_JWT_JWKS_URL')) {
      problems.push(
        'LEGACY_JWT_SECRET: set it (HS256) or LEGACY_JWT_JWKS_URL for LEGACY_AUTH_STRATEGY=jwt-cookie (the key the session JWT is checked with), e.g. LEGACY_JWT_JWKS_URL=https://app.example.com/.well-known/jwks.json',
      );
    }
    if (production && !e.LEGACY_JWT_ISSUER)
      problems.push(
        'LEGACY_JWT_ISSUER: required in production for LEGACY_AUTH_STRATEGY=jwt-cookie (without it any token signed with the same key, by another of your services too, counts as a session here): the iss your login puts in the session JWT, e.g. https://app.example.com',
      );
    if (production && !e.LEGACY_JWT_AUDIENCE)
      problems.push(
        'LEGACY_JWT_AUDIENCE: required in production for LEGACY_AUTH_STRATEGY=jwt-cookie (without it a token your login issued for another service counts as a session here): the aud of the session JWT, e.g. connect-bridge',
      );
    const allowed = [
      'HS256',
      'HS384',
      'HS512',
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'ES256',
      'ES384',
      'EdDSA',
    ];
    const bad = jwtAlgorithms.filter((a) => !allowed.includes(a));
    if (bad.length)
      problems.push(
        `LEGACY_JWT_ALGORITHMS: unsupported ${bad.join(', ')} (allowed: ${allowed.join(', ')}), e.g. RS256`,
      );
  }

  const trustProxy = trustProxyFrom(e.TRUST_PROXY, production, problems);

  const all = [
    ...[...malformed.values()].flat(),
    ...problems.filter((p) => !malformed.has(p.slice(0, p.indexOf(':')))),
  ];
  if (all.length) throw new ConfigError(all, production);

  return {
    env: e.NODE_ENV,
    production,
    demo,
    port: e.PORT,
    host: e.HOST ?? (demo ? '127.0.0.1' : undefined),
    publicUrl,
    secureCookies: publicUrl.startsWith('https://'),
    trustProxy,
    rateLimitIpv6Prefix: e.RATE_LIMIT_IPV6_PREFIX,
    logLevel: e.LOG_LEVEL ?? (demo ? 'warn' : 'info'),
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV === 'development' ? 'pretty' : 'json'),
    logSampleMcpSuccess: e.LOG_SAMPLE_MCP_SUCCESS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? false }
      : { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? true },
    session: e.SESSION_SECRET
      ? { secret: e.SESSION_SECRET, generated: false }
      : { secret: randomBytes(32).toString('base64url'), generated: true },
    workos: {
      apiKey: e.WORKOS_API_KEY,
      clientId: e.WORKOS_CLIENT_ID,
      apiUrl: stripSlash(e.WORKOS_API_URL),
      authkitDomain: e.AUTHKIT_DOMAIN,
    },
    emulatorPort: e.EMULATOR_PORT,
    mcp: {
      audience: e.MCP_AUDIENCE ?? [`${publicUrl}/mcp`],
      upstreamUrl: e.MCP_UPSTREAM_URL,
      allowedOrigins: e.MCP_ALLOWED_ORIGINS ?? [],
      scopes: e.MCP_SCOPES ?? ['openid', 'profile', 'email'],
      resourceName: e.MCP_RESOURCE_NAME,
      documentationUrl: e.MCP_DOCUMENTATION_URL ?? `${publicUrl}/docs/mcp`,
      upstreamSecret: e.MCP_UPSTREAM_SECRET,
      upstreamToolScopes: e.MCP_UPSTREAM_TOOL_SCOPES ?? {},
    },
    access: {
      adminApiToken: e.ADMIN_API_TOKEN,
      adminRateLimitPerMinute: e.ADMIN_API_RATE_LIMIT_PER_MINUTE,
      allowUnlinkedUsers: e.MCP_ALLOW_UNLINKED_USERS,
      requestOfflineAccess: e.MCP_REQUEST_OFFLINE_ACCESS,
      revocationPollMs: e.GRANT_REVOCATION_POLL_MS,
      lastUsedFlushSeconds: e.GRANT_LAST_USED_FLUSH_SECONDS,
    },
    login: {
      transactionTtlSeconds: e.LOGIN_TRANSACTION_TTL_SECONDS,
      sessionMaxAgeHours: e.SESSION_MAX_AGE_HOURS,
      completeTimeoutMs: e.AUTHKIT_COMPLETE_TIMEOUT_MS,
      userConsentOptions: e.AUTHKIT_USER_CONSENT_OPTIONS,
      confirmConnect: e.LOGIN_CONFIRM_CONNECT,
      rateLimit: {
        perIp: e.LOGIN_RATE_LIMIT_PER_IP,
        perAccount: e.LOGIN_RATE_LIMIT_PER_ACCOUNT,
        perAccountAndIp: e.LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_IP,
        windowSeconds: e.LOGIN_RATE_LIMIT_WINDOW_SECONDS,
        perSecond: e.LOGIN_RATE_LIMIT_PER_SECOND,
      },
      passwordHashing: { concurrency: e.PASSWORD_HASH_CONCURRENCY, queue: e.PASSWORD_HASH_QUEUE },
    },
    legacy: {
      strategy,
      sessionUrl: e.LEGACY_SESSION_URL,
      loginUrl: e.LEGACY_LOGIN_URL,
      logoutUrl: e.LEGACY_LOGOUT_URL,
      userUrl: e.LEGACY_USER_URL,
      userToken: e.LEGACY_USER_TOKEN,
      recheckSeconds: e.LEGACY_USER_RECHECK_SECONDS,
      returnToParam: e.LEGACY_RETURN_TO_PARAM,
      cookieNames: e.LEGACY_COOKIE_NAMES,
      timeoutMs: e.LEGACY_TIMEOUT_MS,
      jwt: {
        cookie: e.LEGACY_JWT_COOKIE,
        secret: e.LEGACY_JWT_SECRET,
        jwksUrl: e.LEGACY_JWT_JWKS_URL,
        algorithms: jwtAlgorithms,
        issuer: e.LEGACY_JWT_ISSUER,
        audience: e.LEGACY_JWT_AUDIENCE,
        maxAgeSeconds: e.LEGACY_JWT_MAX_AGE_SECONDS,
        typ: e.LEGACY_JWT_TYP,
        claims: {
          id: e.LEGACY_JWT_CLAIM_ID,
          email: e.LEGACY_JWT_CLAIM_EMAIL,
          firstName: e.LEGACY_JWT_CLAIM_FIRST_NAME,
          lastName: e.LEGACY_JWT_CLAIM_LAST_NAME,
          roles: e.LEGACY_JWT_CLAIM_ROLES,
          tenants: e.LEGACY_JWT_CLAIM_TENANTS,
        },
      },
    },
  };
}

const TRUST_PROXY_EXAMPLE =
  "e.g. TRUST_PROXY=1 (one reverse proxy in front), loopback, or your proxies' addresses such as 10.0.0.0/8";
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as Express's "trust proxy": false, true (refused in production: every
 * X-Forwarded-For entry would be believed, so any client could pick the address the per-address
 * limits count), a hop count, or a list of addresses, subnets and Express's names. A list Express
 * would throw on at boot is a configuration error instead.
 */
function trustProxyFrom(raw: string, production: boolean, problems: string[]): boolean | number | string {
  const value = raw.trim();
  if (value.toLowerCase() === 'false') return false;
  if (value.toLowerCase() === 'true') {
    if (production)
      problems.push(
        `TRUST_PROXY: true is refused in production (it believes every X-Forwarded-For entry, so any client can pick its own address and get round the per-address rate limits): name your own proxies, ${TRUST_PROXY_EXAMPLE}`,
      );
    return true;
  }
  if (/^\d+$/.test(value)) return Number(value);
  if (!value.split(',').every((entry) => isProxyEntry(entry.trim()))) {
    problems.push(
      `TRUST_PROXY: must be false, true (not in production), a hop count, or a comma-separated list of IP addresses, subnets and the names loopback, linklocal, uniquelocal; ${TRUST_PROXY_EXAMPLE}`,
    );
    return false;
  }
  return value;
}

/** One entry of an Express trust-proxy list, as proxy-addr accepts it (no /0: it refuses that too). */
function isProxyEntry(entry: string): boolean {
  if (TRUST_PROXY_NAMES.has(entry)) return true;
  const [address, range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (range === undefined) return true;
  if (/^\d+$/.test(range)) return Number(range) >= 1 && Number(range) <= (family === 4 ? 32 : 128);
  if (family !== 4 || isIP(range) !== 4) return false;
  // a netmask such as 255.255.0.0: contiguous ones, not all zero
  const mask = range.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const inverted = 2 ** 32 - 1 - mask;
  return mask !== 0 && (inverted & (inverted + 1)) === 0;
}

/** Reads process.env: the one place in src/ that does. */
export function loadConfigFromProcess(): AppConfig {
  return loadConfig(process.env);
}

/**
 * Only the database part of the configuration (DATABASE_URL, PGLITE_DATA_DIR,
 * DATABASE_AUTO_MIGRATE), validated like the whole, from process.env: for `db:migrate`, which
 * needs nothing else and runs as its own step of a deployment (a one-shot container with just
 * DATABASE_URL).
 */
export function databaseConfigFromProcess(): AppConfig['database'] {
  const parsed = envSchema
    .pick({ DATABASE_URL: true, PGLITE_DATA_DIR: true, DATABASE_AUTO_MIGRATE: true })
    .safeParse(process.env);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  return e.DATABASE_URL
    ? { kind: 'postgres', url: e.DATABASE_URL, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? false }
    : { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR, autoMigrate: e.DATABASE_AUTO_MIGRATE ?? true };
}
