// The AuthKit emulator in its own process: it answers the bridge's JWKS, metadata, user and
// completion calls, and mints the access tokens the load generator sends.
import { startEmulator, type RunningEmulator } from '../../emulator';
import { failStart, serveRpc } from '../lib/child';

export interface EmulatorTargetOptions {
  loginUri: string;
  clients: Array<{ clientId: string; redirectUris: string[] }>;
}

type MintArgs = Parameters<RunningEmulator['mintAccessToken']>;

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_TARGET ?? '{}') as EmulatorTargetOptions;
  const emulator = await startEmulator({ port: 0, loginUri: options.loginUri, clients: options.clients });
  serveRpc(
    {
      mint: ([claims, opts]: MintArgs) => emulator.mintAccessToken(claims, opts),
      mintMany: async ({
        count,
        claims,
        opts,
      }: {
        count: number;
        claims?: MintArgs[0];
        opts?: MintArgs[1];
      }) => {
        const tokens: string[] = [];
        for (let i = 0; i < count; i++) tokens.push(await emulator.mintAccessToken(claims, opts));
        return tokens;
      },
      rotateKeys: (graceSeconds: number) => emulator.rotateKeys({ graceSeconds }),
      users: () => emulator.users(),
      mem: () => process.memoryUsage(),
      shutdown: async () => {
        await emulator.close();
        setImmediate(() => process.exit(0));
      },
    },
    { url: emulator.url, issuer: emulator.issuer, apiKey: emulator.apiKey, clientId: emulator.clientId },
  );
}

main().catch(failStart);
