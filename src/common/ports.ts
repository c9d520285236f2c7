import { createServer } from 'node:net';

export interface WantedPort {
  port: number;
  host?: string;
  /** The variable that moves it, e.g. PORT. */
  variable: string;
  what: string;
}

/** Whether something else listens on `port` (tries to listen, then lets go at once). */
function busy({ port, host }: WantedPort): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES'),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

/**
 * Every port this process is about to listen on that is already taken, as one message naming
 * each port, what it is for, and the variable that moves it; undefined when all are free.
 * Checked before anything is started or written.
 */
export async function busyPortsMessage(wanted: readonly WantedPort[]): Promise<string | undefined> {
  const taken = [];
  for (const w of wanted) if (w.port !== 0 && (await busy(w))) taken.push(w);
  if (taken.length === 0) return undefined;
  const list = taken.map((t) => `port ${t.port} (${t.what}, ${t.variable})`).join(' and ');
  const example = taken.map((t) => `${t.variable}=${t.port + 100}`).join(' ');
  return (
    `Cannot start: ${list} ${taken.length === 1 ? 'is' : 'are'} already in use; another connect-bridge ` +
    `(or another program) is probably running. Stop it, or choose free ports, e.g. ${example} npm start. Nothing was started or written.`
  );
}
