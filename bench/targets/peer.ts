// A baseline server in its own process: the bare node:http floor or the typical v1 SDK peer.
import { startBareNodePeer, type PeerOptions } from '../peers/bare-node';
import { startSdkPeer } from '../peers/sdk-peer';
import { failStart, serveRpc } from '../lib/child';

export interface PeerTargetOptions extends PeerOptions {
  /** bare: verifies every call; floor: bare, remembering a verified token until exp; sdk: the v1 SDK peer. */
  kind: 'bare' | 'floor' | 'sdk';
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_TARGET ?? '{}') as PeerTargetOptions;
  const peer =
    options.kind === 'sdk'
      ? await startSdkPeer(options)
      : await startBareNodePeer({ ...options, cacheVerified: options.kind === 'floor' });
  serveRpc(
    {
      mem: () => process.memoryUsage(),
      shutdown: async () => {
        setTimeout(() => process.exit(0), 3000).unref();
        await peer.close();
        setImmediate(() => process.exit(0));
      },
    },
    { url: peer.url, pid: process.pid },
  );
}

main().catch(failStart);
