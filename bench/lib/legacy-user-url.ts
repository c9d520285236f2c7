import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LegacyUserUrl {
  /** LEGACY_USER_URL for the bridge ({id} in it). */
  url: string;
  token: string;
  /** How many times the bridge asked. */
  asked(): number;
  close(): Promise<void>;
}

/**
 * A legacy app's user endpoint for the bench: every user is active, with the roles and tenants the
 * bench user signed in with (none), so a recheck finds nothing changed (the common case) and the
 * checked whoami answer stays the same. Counts what it is asked, so the run can say how many
 * rechecks happened under load.
 */
export async function startLegacyUserUrl(token: string): Promise<LegacyUserUrl> {
  let asked = 0;
  const server: Server = createServer((req, res) => {
    asked++;
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    const id = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    res
      .writeHead(200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ id, active: true, roles: [], tenants: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/users/{id}`,
    token,
    asked: () => asked,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
