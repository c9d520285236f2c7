import { createServer } from 'node:net';

/**
 * Ports below Linux's ephemeral range (32768-60999 by default). A port the OS hands out for
 * `listen(0)` comes from that range, which every outgoing connection of every process on the
 * machine (two test passes run side by side in CI) also draws from: between the probe and the
 * server's own listen, one of them could take it. A random port below the range has no such
 * competition; it is still checked to be free.
 */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}

/** A port nobody listens on right now (a server's public URL must be known before it starts). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(candidate)) continue;
    const port = await tryListen(candidate);
    if (port !== undefined) {
      handedOut.add(port);
      return port;
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port');
  return port;
}
