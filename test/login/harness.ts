import { createHash, randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator';
import { createApp } from '../../src/bootstrap';
import type { AppConfig } from '../../src/config/app-config';
import { PrismaService } from '../../src/database/prisma.service';
import { startLegacyApp, type LegacyApp } from '../fixtures/legacy-app';
import type { LogCapture } from '../helpers/app';
import { testConfig } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

export const CLIENT_ID = 'client_test_mcp';
export const CLIENT_REDIRECT = 'http://127.0.0.1:9/callback';

export interface Harness {
  app: NestExpressApplication;
  url: string;
  config: AppConfig;
  emulator: RunningEmulator;
  legacy?: LegacyApp;
  prisma: PrismaService;
  /** An authorize URL at the emulator, as an MCP client would open it. */
  authorizeUrl(state?: string): string;
  isClientRedirect(url: string): boolean;
  /** The login-flow audit rows, oldest first. */
  audit(): Promise<
    Array<{
      outcome: string;
      errorCode: string | null;
      legacyUserId: string | null;
      externalAuthIdHint: string | null;
      transactionId: string | null;
      email: string | null;
    }>
  >;
  close(): Promise<void>;
}

import { freePort } from '../helpers/ports';

export { freePort };

/**
 * The bridge (real app, real database) in front of the AuthKit emulator and, for the
 * session-introspection and jwt-cookie strategies, the fake legacy app. Non-demo config: the
 * bridge reaches the emulator exactly as it would reach WorkOS.
 */
export async function startHarness(
  options: {
    strategy?: 'local' | 'session-introspection' | 'jwt-cookie';
    env?: Record<string, string>;
    logs?: LogCapture;
    db?: TestDatabase;
    /** More emulator options (token lifetimes, a CIMD fetch, …); its clients come after CLIENT_ID. */
    emulator?: Partial<EmulatorOptions>;
  } = {},
): Promise<Harness> {
  const strategy = options.strategy ?? 'local';
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const emulator = await startEmulator({
    enableTestControl: true,
    ...options.emulator,
    loginUri: `${publicUrl}/auth/login`,
    clients: [{ clientId: CLIENT_ID, redirectUris: [CLIENT_REDIRECT] }, ...(options.emulator?.clients ?? [])],
  });
  const legacy = strategy === 'local' ? undefined : await startLegacyApp();
  const db = options.db ?? (await createTestDatabase());
  const env: Record<string, string> = {
    PUBLIC_URL: publicUrl,
    WORKOS_API_KEY: emulator.apiKey,
    WORKOS_CLIENT_ID: emulator.clientId,
    WORKOS_API_URL: emulator.url,
    AUTHKIT_DOMAIN: emulator.issuer,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    LEGACY_AUTH_STRATEGY: strategy,
    AUTHKIT_COMPLETE_TIMEOUT_MS: '2000',
    ...(legacy && {
      LEGACY_SESSION_URL: legacy.sessionUrl,
      LEGACY_LOGIN_URL: legacy.loginUrl,
      LEGACY_LOGOUT_URL: legacy.logoutUrl,
      LEGACY_TIMEOUT_MS: '500',
      LEGACY_JWT_COOKIE: 'legacy_jwt',
      LEGACY_JWT_SECRET: legacy.jwtSecret,
      LEGACY_JWT_ISSUER: 'legacy-app',
      LEGACY_JWT_AUDIENCE: 'connect-bridge',
    }),
    ...(options.logs ? { LOG_LEVEL: 'info' } : {}),
    ...options.env,
  };
  const config = testConfig(env, db.database);
  const app = await createApp(config, { logStream: options.logs });
  await app.listen(port, '127.0.0.1');
  const prisma = app.get(PrismaService);
  return {
    app,
    url: publicUrl,
    config,
    emulator,
    legacy,
    prisma,
    authorizeUrl(state = randomBytes(8).toString('hex')) {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const q = new URLSearchParams({
        client_id: CLIENT_ID,
        redirect_uri: CLIENT_REDIRECT,
        response_type: 'code',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
        scope: 'openid profile email',
      });
      return `${emulator.url}/oauth2/authorize?${q}`;
    },
    isClientRedirect: (url) => url.startsWith(CLIENT_REDIRECT),
    audit: () =>
      prisma.authorizationAudit.findMany({
        orderBy: { createdAt: 'asc' },
        select: {
          outcome: true,
          errorCode: true,
          legacyUserId: true,
          externalAuthIdHint: true,
          transactionId: true,
          email: true,
        },
      }),
    async close() {
      await app.close();
      await emulator.close();
      await legacy?.close();
      if (!options.db) await db.dispose();
    },
  };
}

/** The external_auth_id in a Login URI. */
export const externalAuthIdOf = (loginUrl: string): string =>
  new URL(loginUrl).searchParams.get('external_auth_id') ?? '';
