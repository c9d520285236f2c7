import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

/**
 * How long a connection must have been idle before a stopping instance closes it itself. A
 * reverse proxy that keeps connections to the instances open (nginx's `keepalive`) may send a
 * request on an idle connection at the very moment the instance closes it; that request is lost
 * (a POST is never retried). A proxy whose idle timeout for those connections is shorter than
 * this (docs/deploy/nginx.conf: `keepalive_timeout 1s`) always closes them first.
 */
export const DRAIN_IDLE_CLOSE_MS = 2_000;

interface SocketState {
  /** Requests in flight on the connection. */
  active: number;
  idleSince: number;
}

/**
 * The HTTP side of a graceful stop. `close()` stops accepting connections at once (behind nginx a
 * refused connection's request goes to another instance, a POST too: it was never sent), lets
 * every request in flight finish, answers the requests that still arrive on open keep-alive
 * connections (with `Connection: close`, so each connection ends after its answer; /readyz
 * answers 503, so a health-checking balancer stops sending), closes connections idle for
 * DRAIN_IDLE_CLOSE_MS, and resolves once no connection is left. Only then may the database close.
 */
export class HttpDrain {
  private draining = false;
  private readonly sockets = new Map<Socket, SocketState>();
  /** The responses in flight, each with its connection's state. */
  private readonly responses = new Map<ServerResponse, SocketState | undefined>();
  /** Requests answered since close() began. */
  private answeredWhileDraining = 0;

  /** First in the chain: while draining, every answer closes its connection, and /readyz is 503. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (!this.draining) return next();
    res.setHeader('Connection', 'close');
    if ((req.method === 'GET' || req.method === 'HEAD') && req.path === '/readyz') {
      res.setHeader('Cache-Control', 'no-store');
      res.status(503).json({ status: 'error', checks: { shutdown: 'down' } });
      return;
    }
    next();
  };

  /** Tracks the connections and requests of `server`; call before it listens. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { active: 0, idleSince: Date.now() });
      socket.once('close', () => this.sockets.delete(socket));
    });
    // One listener for every response (this: the response), not a closure per request.
    const responseClosed = this.responseClosed;
    function closed(this: ServerResponse): void {
      responseClosed(this);
    }
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const state = this.sockets.get(req.socket);
      if (state) state.active++;
      this.responses.set(res, state);
      res.on('close', closed);
    });
  }

  private readonly responseClosed = (res: ServerResponse): void => {
    const state = this.responses.get(res);
    this.responses.delete(res);
    if (state) {
      state.active--;
      state.idleSince = Date.now();
    }
    if (this.draining) this.answeredWhileDraining++;
  };

  get isDraining(): boolean {
    return this.draining;
  }

  /** Requests in flight and open connections right now. */
  stats(): { inFlight: number; connections: number } {
    return { inFlight: this.responses.size, connections: this.sockets.size };
  }

  /** Stops accepting and waits until every connection has ended (see the class comment). */
  async close(server: Server): Promise<{ answered: number }> {
    this.draining = true;
    // Answers not started yet end their connection too.
    for (const res of this.responses.keys()) if (!res.headersSent) res.setHeader('Connection', 'close');
    // net.Server's close, not http.Server's: that one would also drop every idle keep-alive
    // connection at once, racing a proxy that is about to send a request on one.
    const ended = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    const reap = () => {
      const now = Date.now();
      for (const [socket, state] of this.sockets)
        if (state.active === 0 && now - state.idleSince >= DRAIN_IDLE_CLOSE_MS) socket.destroy();
    };
    const timer = setInterval(reap, 100);
    try {
      reap();
      await ended;
    } finally {
      clearInterval(timer);
    }
    return { answered: this.answeredWhileDraining };
  }
}
