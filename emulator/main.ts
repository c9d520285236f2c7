/**
 * `npm run emulator`: the AuthKit emulator alone (default http://127.0.0.1:4100).
 * Environment: EMULATOR_PORT, EMULATOR_HOST, EMULATOR_ISSUER, EMULATOR_LOGIN_URI,
 * EMULATOR_API_KEY, EMULATOR_CLIENT_ID, EMULATOR_TEST_CONTROL=true,
 * EMULATOR_ALLOW_HTTP_LOCALHOST_CLIENT_IDS=true, EMULATOR_QUIET=true.
 */
import { startEmulator } from './index';

async function main(): Promise<void> {
  const env = process.env;
  const flag = (name: string) => env[name] === 'true' || env[name] === '1';
  const port = Number(env.EMULATOR_PORT ?? 4100);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error('EMULATOR_PORT must be a port number');
  const emulator = await startEmulator({
    port,
    host: env.EMULATOR_HOST || undefined,
    issuer: env.EMULATOR_ISSUER || undefined,
    loginUri: env.EMULATOR_LOGIN_URI || 'http://localhost:3000/auth/login',
    apiKey: env.EMULATOR_API_KEY || undefined,
    clientId: env.EMULATOR_CLIENT_ID || undefined,
    enableTestControl: flag('EMULATOR_TEST_CONTROL'),
    allowHttpLocalhostClientIds: flag('EMULATOR_ALLOW_HTTP_LOCALHOST_CLIENT_IDS'),
    log: flag('EMULATOR_QUIET') ? undefined : (line) => console.log(`[emulator] ${line}`),
  });
  console.log(`AuthKit emulator on ${emulator.url}
  issuer     ${emulator.issuer}  (metadata: /.well-known/oauth-authorization-server)
  API key    ${emulator.apiKey}   client id ${emulator.clientId}
  Login URI  ${env.EMULATOR_LOGIN_URI || 'http://localhost:3000/auth/login'}
  SDK        new WorkOS('${emulator.apiKey}', { apiHostname: '${new URL(emulator.url).hostname}', port: ${emulator.port}, https: false })`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void emulator.close().then(() => process.exit(0));
    });
  }
}

main().catch((err: unknown) => {
  console.error('AuthKit emulator failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
