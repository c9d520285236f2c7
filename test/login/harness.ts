import { randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { decodeJwt, type JWTPayload } from 'jose';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator';
import { createApp } from '../../src/bootstrap';
import type { AppConfig } from '../../src/config/app-config';
import { PrismaService } from '../../src/database/prisma.service';
import { startLegacyApp, type LegacyApp } from '../fixtures/legacy-app';
import type { LogCapture } from '../helpers/app';
import { emulatorEnv, testConfig } from '../helpers/config';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { pkce } from '../mcp/oauth';
import { radioChoices, type Browser, type Page } from './browser';

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
  /** login_outcomes_total on GET /metrics for this bridge's strategy, by outcome (zeros included). */
  loginOutcomes(): Promise<Record<string, number>>;
  /** How many AuthKit completion calls were timed (authkit_completion_duration_seconds_count), by result. */
  completionResults(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** One series of a metric as GET /metrics shows it. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The series of one metric (exact name, e.g. `x_total` or `x_seconds_count`) on GET /metrics. */
export async function scrape(url: string, name: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ labels, value: Number(m[3]) });
  }
  return samples;
}

/** What grew between two readings of a labelled counter: only the keys that changed. */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

const byLabel = (samples: Sample[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.labels[label], s.value]));

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
    /** Also point LEGACY_USER_URL / LEGACY_USER_TOKEN at the fake legacy app's user URL. */
    userUrl?: boolean;
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
    ...emulatorEnv(emulator),
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
      ...(options.userUrl && { LEGACY_USER_URL: legacy.userUrl, LEGACY_USER_TOKEN: legacy.userToken }),
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
    authorizeUrl: (state) => clientAuthorize(emulator.url, { state }).url,
    isClientRedirect,
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
    loginOutcomes: async () =>
      byLabel(
        (await scrape(publicUrl, 'login_outcomes_total')).filter((s) => s.labels.strategy === strategy),
        'outcome',
      ),
    completionResults: async () =>
      byLabel(await scrape(publicUrl, 'authkit_completion_duration_seconds_count'), 'result'),
    async close() {
      await app.close();
      await emulator.close();
      await legacy?.close();
      if (!options.db) await db.dispose();
    },
  };
}

/**
 * An authorize URL at the emulator for the pre-registered client, as an MCP client would open it
 * (PKCE; the MCP resource when given), and its code verifier.
 */
export function clientAuthorize(
  emulatorUrl: string,
  options: { state?: string; scope?: string; resource?: string } = {},
): { url: string; verifier: string } {
  const { verifier, challenge } = pkce();
  const q = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: CLIENT_REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: options.state ?? randomBytes(8).toString('hex'),
    scope: options.scope ?? 'openid profile email',
    ...(options.resource && { resource: options.resource }),
  });
  return { url: `${emulatorUrl}/oauth2/authorize?${q}`, verifier };
}

/** Whether a URL is the pre-registered client's redirect URI (the end of a sign-in). */
export const isClientRedirect = (url: string): boolean => url.startsWith(CLIENT_REDIRECT);

/** The external_auth_id in a Login URI. */
export const externalAuthIdOf = (loginUrl: string): string =>
  new URL(loginUrl).searchParams.get('external_auth_id') ?? '';

/** Whether a page is the emulator's consent page (AuthKit asking, e.g., which workspace). */
export const isConsentPage = (page: Page): boolean => page.html.includes('action="/oauth2/consent"');

/**
 * On the emulator's consent page: picks the choice labelled `label` in the fieldset whose legend is
 * `legend` (as a person clicks it), then Allow; follows on until `stop`.
 */
export function chooseOnConsent(
  b: Browser,
  page: Page,
  legend: string,
  label: string,
  stop?: (url: string) => boolean,
): Promise<Page> {
  const fieldsets = page.html.split('<fieldset>').slice(1);
  const index = fieldsets.findIndex((f) => f.includes(`<legend>${legend}</legend>`));
  if (index < 0) throw new Error(`no "${legend}" on the consent page:\n${page.html}`);
  const name = `choice_${index}`;
  const choice = radioChoices(page.html, name).find((c) => c.label === label);
  if (!choice) throw new Error(`no choice "${label}" under "${legend}"`);
  return b.submit(page, '/oauth2/consent', { [name]: choice.value, decision: 'allow' }, stop);
}

/** Redeems the code in the client redirect URL `end` (PKCE `verifier`): the access token's claims. */
export async function redeemCode(emulatorUrl: string, end: string, verifier: string): Promise<JWTPayload> {
  const code = new URL(end).searchParams.get('code');
  if (!code) throw new Error(`no code in ${end}`);
  const res = await fetch(`${emulatorUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLIENT_REDIRECT,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token) throw new Error(`token request answered ${res.status}`);
  return decodeJwt(body.access_token);
}
