import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Backend {
  name: string;
  /** http://127.0.0.1:PORT */
  url: string;
}

export interface Balancer {
  /** The one public origin in front of the backends (the bridges' PUBLIC_URL). */
  url: string;
  /** Which backend served each request, in order. */
  served: Array<{ method: string; path: string; backend: string; status: number }>;
  /** Picks the backend of a request; default: round robin. Replace it at any time. */
  route: (req: IncomingMessage, backends: Backend[]) => Backend;
  close(): Promise<void>;
}

/**
 * A tiny reverse proxy, like a load balancer without sticky sessions: each request goes to the
 * backend `route` picks (round robin by default), headers and bodies passed through unchanged.
 * Start it before the backends (they need its URL as PUBLIC_URL), then set `backends`.
 */
export async function startBalancer(backends: Backend[] = []): Promise<Balancer & { backends: Backend[] }> {
  let next = 0;
  const roundRobin = (_req: IncomingMessage, list: Backend[]) => list[next++ % list.length];
  const state: Balancer & { backends: Backend[] } = {
    url: '',
    backends,
    served: [],
    route: roundRobin,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const backend = state.route(req, state.backends);
    const target = new URL(req.url ?? '/', backend.url);
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      state.served.push({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        backend: backend.name,
        status: answer.statusCode ?? 0,
      });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      state.served.push({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        backend: backend.name,
        status: 502,
      });
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}
