import { loadConfig, type AppConfig } from '../../src/config/app-config';

/** A validated config for tests: defaults plus the variables given; quiet logs. */
export function testConfig(
  env: Record<string, string | undefined> = {},
  database?: AppConfig['database'],
): AppConfig {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', ...env });
  return database ? { ...config, database } : config;
}
