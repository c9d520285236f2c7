import type { RunningEmulator } from '../../emulator';
import { loadConfig, type AppConfig } from '../../src/config/app-config';

/** A validated config for tests: defaults plus the variables given; quiet logs. */
export function testConfig(
  env: Record<string, string | undefined> = {},
  database?: AppConfig['database'],
): AppConfig {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', ...env });
  return database ? { ...config, database } : config;
}

/** The variables that point the bridge at an AuthKit emulator, as it would reach WorkOS (non-demo). */
export const emulatorEnv = (emulator: RunningEmulator): Record<string, string> => ({
  WORKOS_API_KEY: emulator.apiKey,
  WORKOS_CLIENT_ID: emulator.clientId,
  WORKOS_API_URL: emulator.url,
  AUTHKIT_DOMAIN: emulator.issuer,
});
