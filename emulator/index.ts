/**
 * A local WorkOS AuthKit emulator: the AuthKit OAuth issuer (Standalone Connect) and the
 * slice of the WorkOS API that connect-bridge uses, on one origin, in memory.
 * Plain Express + jose; never loaded by the production server.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { JWTPayload } from 'jose';
import { apiRouter, sessionStatus } from './api';
import type { CimdOptions } from './clients';
import type { Ctx, ResolvedOptions } from './context';
import { controlRouter, type Controls } from './control';
import { prefixedId, ulid } from './ids';
import { KeyRing } from './keys';
import { oauthRouter } from './oauth';
import {
  EmulatorState,
  type CompletionCall,
  type CompletionFault,
  type OAuthClient,
  type SessionRevocationMode,
} from './state';

export type { CompletionCall, CompletionFault, SessionRevocationMode } from './state';

export interface EmulatorOptions {
  /** 0 = a free port (tests); `npm run emulator` uses 4100. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default `http://${host}:${port}` (no trailing slash); API and issuer share the origin. */
  issuer?: string;
  /** The Login URI: /oauth2/authorize redirects the browser here with ?external_auth_id=… */
  loginUri: string;
  /** Default 'sk_test_emulator'. */
  apiKey?: string;
  /** Environment client id, default 'client_emulator' (the `aud` when no resource was asked for). */
  clientId?: string;
  /** Default 300. */
  accessTokenTtlSeconds?: number;
  /** CIMD: accept http://localhost client_id URLs (development option). */
  allowHttpLocalhostClientIds?: boolean;
  /** The /__emulator/* test-control routes; off by default. */
  enableTestControl?: boolean;
  /** Pre-registered public clients. */
  clients?: Array<{ clientId: string; redirectUris: string[]; name?: string }>;

  // --- extensions -----------------------------------------------------------------------------
  /** Default 30 days. */
  refreshTokenTtlSeconds?: number;
  /** Default 60. */
  authorizationCodeTtlSeconds?: number;
  /** Lifetime of an external_auth_id; default 600 (10 minutes). */
  externalAuthTtlSeconds?: number;
  /** Scopes granted when /oauth2/authorize has no `scope`; default ['openid','profile','email']. */
  defaultScope?: string[];
  /** RFC 7591 registration at /oauth2/register; default true. */
  enableDynamicClientRegistration?: boolean;
  /** Client ID Metadata Documents; default true. */
  enableClientIdMetadataDocuments?: boolean;
  /** false: a completion that changes a known user's email fails with email_change_not_allowed. */
  allowEmailChange?: boolean;
  /** Used to fetch client ID metadata documents; default global fetch. */
  fetch?: typeof fetch;
  /** Default grace period of rotateKeys() in seconds; default 300. */
  keyRotationGraceSeconds?: number;
  /** One line per request and per completion; default silent. */
  log?: (line: string) => void;
}

export interface EmulatedUserView {
  id: string;
  externalId: string;
  email: string;
  firstName?: string;
  lastName?: string;
}

/** An AuthKit session (one per approved authorization; its id is the tokens' `sid`). */
export interface EmulatedSessionView {
  id: string;
  userId: string;
  clientId: string;
  status: 'active' | 'expired' | 'revoked';
  /** ISO 8601, as the WorkOS API shows them. */
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  endedAt: string | null;
  ipAddress: string | null;
  userAgent: string | null;
}

export interface RunningEmulator {
  /** Origin it listens on, e.g. http://127.0.0.1:41234 (same as issuer unless `issuer` was given). */
  url: string;
  issuer: string;
  apiKey: string;
  clientId: string;
  port: number;
  close(): Promise<void>;
  // programmatic twin of the test-control surface:
  mintAccessToken(
    claims?: Record<string, unknown>,
    opts?: {
      alg?: string;
      kid?: string;
      expiresInSeconds?: number;
      key?: 'current' | 'previous' | 'unknown';
    },
  ): Promise<string>;
  rotateKeys(opts?: { graceSeconds?: number }): Promise<void>;
  expireExternalAuth(externalAuthId: string): void;
  injectCompletionFault(fault: CompletionFault): void;
  /** Completion calls received, with the consent options sent (for asserting "never completed twice"). */
  completionCalls(): CompletionCall[];
  users(): Array<EmulatedUserView>;

  // --- extensions -----------------------------------------------------------------------------
  /** Removes every pending injected fault and sets session revocation back to 'works'. */
  clearFaults(): void;
  /**
   * How POST /user_management/sessions/revoke behaves from now on: 'works'; 'fails' (500
   * `{message}`); 'ignored' (answers success but ends neither the session nor its refresh tokens:
   * an AuthKit whose session revocation does not reach OAuth refresh tokens).
   */
  setSessionRevocation(mode: SessionRevocationMode): void;
  /** The AuthKit sessions recorded so far (one per exchanged authorization code). */
  sessions(): EmulatedSessionView[];
  /** Registers (or replaces) a public client at run time. */
  registerClient(client: { clientId: string; redirectUris: string[]; name?: string }): void;
  /** The current JWKS (what /oauth2/jwks serves). */
  jwks(): { keys: Array<Record<string, unknown>> };
}

export const EMULATOR_DEFAULTS = {
  host: '127.0.0.1',
  apiKey: 'sk_test_emulator',
  clientId: 'client_emulator',
  accessTokenTtlSeconds: 300,
  refreshTokenTtlSeconds: 30 * 24 * 3600,
  authorizationCodeTtlSeconds: 60,
  externalAuthTtlSeconds: 600,
  keyRotationGraceSeconds: 300,
} as const;

const publicPaths = /^\/(\.well-known\/|oauth2\/(token|register|jwks|introspection|userinfo)$)/;

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  if (!options?.loginUri) throw new Error('startEmulator: loginUri is required');
  new URL(options.loginUri); // throws on a malformed Login URI
  if (options.issuer?.endsWith('/')) throw new Error('startEmulator: issuer must not end with "/"');
  const host = options.host ?? EMULATOR_DEFAULTS.host;
  const log = options.log ?? (() => {});
  const cimd: CimdOptions = {
    enabled: options.enableClientIdMetadataDocuments ?? true,
    allowHttpLocalhost: options.allowHttpLocalhostClientIds ?? false,
    fetch: options.fetch ?? fetch,
    cacheSeconds: 300,
    timeoutMs: 5000,
  };
  const opts: ResolvedOptions = {
    issuer: options.issuer ?? '', // set once the port is known
    loginUri: options.loginUri,
    apiKey: options.apiKey ?? EMULATOR_DEFAULTS.apiKey,
    clientId: options.clientId ?? EMULATOR_DEFAULTS.clientId,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? EMULATOR_DEFAULTS.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds ?? EMULATOR_DEFAULTS.refreshTokenTtlSeconds,
    authorizationCodeTtlSeconds:
      options.authorizationCodeTtlSeconds ?? EMULATOR_DEFAULTS.authorizationCodeTtlSeconds,
    externalAuthTtlSeconds: options.externalAuthTtlSeconds ?? EMULATOR_DEFAULTS.externalAuthTtlSeconds,
    defaultScope: options.defaultScope ?? ['openid', 'profile', 'email'],
    enableTestControl: options.enableTestControl ?? false,
    enableDynamicClientRegistration: options.enableDynamicClientRegistration ?? true,
    allowEmailChange: options.allowEmailChange ?? true,
    cimd,
    log,
  };
  const state = new EmulatorState();
  const keys = await KeyRing.create();
  const ctx: Ctx = { opts, state, keys };

  const addClient = (c: { clientId: string; redirectUris: string[]; name?: string }) => {
    const client: OAuthClient = {
      clientId: c.clientId,
      name: c.name,
      redirectUris: [...c.redirectUris],
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['authorization_code', 'refresh_token'],
      source: 'preregistered',
      createdAt: Date.now(),
    };
    state.clients.set(client.clientId, client);
  };
  for (const c of options.clients ?? []) addClient(c);

  const controls: Controls = {
    async mintAccessToken(claims = {}, o = {}) {
      const iat = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = {
        iss: opts.issuer,
        sub: prefixedId('user'),
        aud: opts.clientId,
        client_id: opts.clientId,
        sid: prefixedId('session'),
        jti: ulid(),
        scope: 'openid profile email',
        iat,
        exp: iat + (o.expiresInSeconds ?? opts.accessTokenTtlSeconds),
        ...claims,
      };
      // `{ claim: undefined }` removes a claim (e.g. a token without `aud`).
      for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
      const plain =
        (o.alg === undefined || o.alg === 'RS256') &&
        o.kid === undefined &&
        (o.key ?? 'current') === 'current';
      return plain ? keys.sign(payload) : keys.signHostile(payload, o);
    },
    async rotateKeys(o = {}) {
      await keys.rotate(
        o.graceSeconds ?? options.keyRotationGraceSeconds ?? EMULATOR_DEFAULTS.keyRotationGraceSeconds,
      );
    },
    expireExternalAuth(externalAuthId) {
      const p = state.pending.get(externalAuthId);
      if (p) p.expiresAt = Date.now() - 1;
    },
    injectCompletionFault(fault: CompletionFault) {
      state.faults.push({ ...fault, remaining: Math.max(1, fault.times ?? 1) });
    },
    setSessionRevocation(mode: SessionRevocationMode) {
      state.sessionRevocation = mode;
    },
    clearFaults() {
      state.faults.length = 0;
      state.sessionRevocation = 'works';
    },
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = Date.now();
    res.set('X-Request-ID', randomUUID());
    res.on('finish', () => log(`${req.method} ${req.path} ${res.statusCode} ${Date.now() - started}ms`));
    if (publicPaths.test(req.path)) {
      res.set('Access-Control-Allow-Origin', '*');
      res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, MCP-Protocol-Version');
      res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.set('Access-Control-Max-Age', '600');
      if (req.method === 'OPTIONS') return void res.status(204).end();
    }
    next();
  });
  app.use(oauthRouter(ctx));
  app.use(apiRouter(ctx));
  if (opts.enableTestControl) app.use(controlRouter(ctx, controls));
  app.use((req: Request, res: Response) => {
    res.status(404).json({ message: `Not found: ${req.method} ${req.path}` });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    const status = e.status && e.status >= 400 && e.status < 500 ? e.status : 500;
    if (status === 500) log(`error on ${req.method} ${req.path}: ${e.message ?? String(err)}`);
    if (res.headersSent) return;
    if (req.path.startsWith('/oauth2/'))
      res
        .status(status)
        .json({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: e.message });
    else
      res
        .status(status)
        .json({ message: status === 500 ? 'Internal server error' : (e.message ?? 'Bad request') });
  });

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!opts.issuer) opts.issuer = url;

  return {
    url,
    issuer: opts.issuer,
    apiKey: opts.apiKey,
    clientId: opts.clientId,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    mintAccessToken: controls.mintAccessToken,
    rotateKeys: controls.rotateKeys,
    expireExternalAuth: controls.expireExternalAuth,
    injectCompletionFault: controls.injectCompletionFault,
    clearFaults: controls.clearFaults,
    setSessionRevocation: controls.setSessionRevocation,
    sessions: () => {
      const iso = (ms: number) => new Date(ms).toISOString();
      return [...state.sessions.values()].map((s) => ({
        id: s.id,
        userId: s.userId,
        clientId: s.clientId,
        status: sessionStatus(s),
        createdAt: iso(s.createdAt),
        updatedAt: iso(s.updatedAt),
        expiresAt: iso(s.expiresAt),
        endedAt: s.endedAt === undefined ? null : iso(s.endedAt),
        ipAddress: s.ipAddress ?? null,
        userAgent: s.userAgent ?? null,
      }));
    },
    completionCalls: () => state.completionCalls.map((c) => ({ ...c })),
    users: () =>
      [...state.users.values()].map((u) => ({
        id: u.id,
        externalId: u.externalId,
        email: u.email,
        firstName: u.firstName,
        lastName: u.lastName,
      })),
    registerClient: addClient,
    jwks: () => keys.jwks() as unknown as { keys: Array<Record<string, unknown>> },
  };
}
