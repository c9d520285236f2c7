import { randomBytes } from 'node:crypto';
import { envSchema, type RawEnv } from './env.schema';

export type LegacyStrategyName = 'local' | 'session-introspection' | 'jwt-cookie';

/** The typed configuration, built once at boot. Nothing else reads process.env. */
export interface AppConfig {
  env: 'development' | 'test' | 'production';
  production: boolean;
  /** No WORKOS_API_KEY: the embedded AuthKit emulator stands in for WorkOS. */
  demo: boolean;
  port: number;
  publicUrl: string;
  secureCookies: boolean;
  trustProxy: boolean | number | string;
  logLevel: RawEnv['LOG_LEVEL'];
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
     * Sign-in attempts at the local strategy's form within one window: per client IP (every
     * attempt) and per account (cleared by the right password).
     */
    rateLimit: { perIp: number; perAccount: number; windowSeconds: number };
  };
  legacy: {
    strategy: LegacyStrategyName;
    sessionUrl?: string;
    loginUrl?: string;
    logoutUrl?: string;
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
      claims: { id: string; email: string; firstName: string; lastName: string };
    };
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

const stripSlash = (u: string) => u.replace(/\/+$/, '');

/**
 * Validates the environment and returns the typed config, or throws one ConfigError that
 * lists every bad variable and why. Values are never echoed (they may be secrets).
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const demo = !e.WORKOS_API_KEY;
  const publicUrl = stripSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);

  const requireHttps = (name: string, value: string | undefined) => {
    if (production && value && !value.startsWith('https://'))
      problems.push(`${name}: must be https:// in production`);
  };
  if (production && demo) {
    problems.push('WORKOS_API_KEY: required in production (demo mode with the embedded emulator is refused)');
  }
  if (production && !e.SESSION_SECRET)
    problems.push('SESSION_SECRET: required in production (32+ random characters)');
  if (production && !e.PUBLIC_URL) problems.push('PUBLIC_URL: required in production');
  requireHttps('PUBLIC_URL', e.PUBLIC_URL);
  requireHttps('WORKOS_API_URL', e.WORKOS_API_URL);
  requireHttps('AUTHKIT_DOMAIN', e.AUTHKIT_DOMAIN);
  requireHttps('LEGACY_SESSION_URL', e.LEGACY_SESSION_URL);
  requireHttps('LEGACY_LOGIN_URL', e.LEGACY_LOGIN_URL);
  requireHttps('LEGACY_LOGOUT_URL', e.LEGACY_LOGOUT_URL);
  requireHttps('LEGACY_JWT_JWKS_URL', e.LEGACY_JWT_JWKS_URL);
  requireHttps('MCP_UPSTREAM_URL', e.MCP_UPSTREAM_URL);
  requireHttps('MCP_DOCUMENTATION_URL', e.MCP_DOCUMENTATION_URL);
  if (e.MCP_UPSTREAM_URL && !e.MCP_UPSTREAM_SECRET) {
    problems.push('MCP_UPSTREAM_SECRET: required with MCP_UPSTREAM_URL (signs the identity sent upstream)');
  }

  if (!demo) {
    if (!e.WORKOS_CLIENT_ID) problems.push('WORKOS_CLIENT_ID: required when WORKOS_API_KEY is set');
    if (!e.AUTHKIT_DOMAIN) problems.push('AUTHKIT_DOMAIN: required when WORKOS_API_KEY is set');
  }
  if (e.AUTHKIT_DOMAIN && e.AUTHKIT_DOMAIN.endsWith('/')) {
    problems.push('AUTHKIT_DOMAIN: must not end with "/" (it is compared byte for byte with the issuer)');
  }

  const strategy = e.LEGACY_AUTH_STRATEGY;
  if (strategy === 'session-introspection') {
    if (!e.LEGACY_SESSION_URL)
      problems.push('LEGACY_SESSION_URL: required for LEGACY_AUTH_STRATEGY=session-introspection');
    if (!e.LEGACY_LOGIN_URL)
      problems.push('LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=session-introspection');
  }
  const jwtAlgorithms = e.LEGACY_JWT_ALGORITHMS ?? (e.LEGACY_JWT_JWKS_URL ? ['RS256'] : ['HS256']);
  if (strategy === 'jwt-cookie') {
    if (!e.LEGACY_LOGIN_URL) problems.push('LEGACY_LOGIN_URL: required for LEGACY_AUTH_STRATEGY=jwt-cookie');
    if (!e.LEGACY_JWT_SECRET && !e.LEGACY_JWT_JWKS_URL) {
      problems.push(
        'LEGACY_JWT_SECRET: set it (HS256) or LEGACY_JWT_JWKS_URL for LEGACY_AUTH_STRATEGY=jwt-cookie',
      );
    }
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
      problems.push(`LEGACY_JWT_ALGORITHMS: unsupported ${bad.join(', ')} (allowed: ${allowed.join(', ')})`);
  }

  let trustProxy: boolean | number | string = false;
  if (e.TRUST_PROXY === 'true') trustProxy = true;
  else if (/^\d+$/.test(e.TRUST_PROXY)) trustProxy = Number(e.TRUST_PROXY);
  else if (e.TRUST_PROXY !== 'false') trustProxy = e.TRUST_PROXY;

  if (problems.length) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    production,
    demo,
    port: e.PORT,
    publicUrl,
    secureCookies: publicUrl.startsWith('https://'),
    trustProxy,
    logLevel: e.LOG_LEVEL,
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
      rateLimit: {
        perIp: e.LOGIN_RATE_LIMIT_PER_IP,
        perAccount: e.LOGIN_RATE_LIMIT_PER_ACCOUNT,
        windowSeconds: e.LOGIN_RATE_LIMIT_WINDOW_SECONDS,
      },
    },
    legacy: {
      strategy,
      sessionUrl: e.LEGACY_SESSION_URL,
      loginUrl: e.LEGACY_LOGIN_URL,
      logoutUrl: e.LEGACY_LOGOUT_URL,
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
        claims: {
          id: e.LEGACY_JWT_CLAIM_ID,
          email: e.LEGACY_JWT_CLAIM_EMAIL,
          firstName: e.LEGACY_JWT_CLAIM_FIRST_NAME,
          lastName: e.LEGACY_JWT_CLAIM_LAST_NAME,
        },
      },
    },
  };
}

/** Reads process.env: the one place in src/ that does. */
export function loadConfigFromProcess(): AppConfig {
  return loadConfig(process.env);
}
