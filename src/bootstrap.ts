import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module';
import { sendError } from './common/all-exceptions.filter';
import { HttpDrain } from './common/http-drain';
import { securityHeaders } from './common/security-headers';
import type { AppConfig } from './config/app-config';
import { flushLogs } from './logging/logging.module';
import { deferMcpBodyError, JSON_BODY_LIMIT_BYTES } from './mcp/http/deferred-body-error';
import { McpFrontDoor } from './mcp/http/mcp-front-door';

/** The drain of each application createApp built: listen() starts it on SIGTERM/SIGINT. */
const drains = new WeakMap<NestExpressApplication, HttpDrain>();

/**
 * Builds the Nest application from a validated config: used by main.ts, the demo and tests.
 * Body parsing is ours (not Nest's) so that a malformed or oversized body gets the one error
 * shape instead of Express's default HTML page (on /mcp: a JSON-RPC error, after the token check).
 */
export async function createApp(
  config: AppConfig,
  options: AppModuleOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, options),
    new ExpressAdapter(strictExpress()),
    { bufferLogs: true, bodyParser: false },
  );
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.use(securityHeaders({ https: config.publicUrl.startsWith('https://') }));
  const drain = new HttpDrain();
  drains.set(app, drain);
  app.use(drain.middleware);
  const errorLogger = new NestLogger('HTTP');
  const guard =
    (parser: express.RequestHandler) =>
    (req: Request, res: Response, next: NextFunction): void => {
      void parser(req, res, (err?: unknown) => {
        if (!err || deferMcpBodyError(req, err)) next();
        else sendError(err, req, res, errorLogger);
      });
    };
  app.use(
    guard(express.json({ limit: JSON_BODY_LIMIT_BYTES, type: ['application/json', 'application/*+json'] })),
  );
  app.use(guard(express.urlencoded({ extended: false, limit: '64kb' })));
  app.use(cookieParser(config.session.secret));
  mountFrontDoor(app, drain);
  // No app.enableShutdownHooks(): Nest's own handler would close the database (onModuleDestroy)
  // before the HTTP server, under the requests in flight. listen() stops in the right order.
  return app;
}

/**
 * The common `POST /mcp` is answered by McpFrontDoor before Express sees it (the same endpoint
 * service, without the cost of the general middleware chain); everything else, and every request
 * while the instance drains (answers that close their connection), goes to Express as before.
 */
function mountFrontDoor(app: NestExpressApplication, drain: HttpDrain): void {
  const server = app.getHttpServer() as import('node:http').Server;
  const [express] = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  if (!express) throw new Error('the HTTP server has no request handler');
  const frontDoor = app.get(McpFrontDoor);
  server.removeListener('request', express);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (drain.isDraining || !frontDoor.take(req, res)) express(req, res);
  });
}

/**
 * An Express application with one spelling per route: `/mcp` is the MCP endpoint, `/mcp/`,
 * `/MCP` and `/Mcp` are 404s. Express matches routes case-insensitively and with an optional
 * trailing slash by default, so anything that decides by the path (a middleware, a policy, a
 * proxy rule in front of the bridge) could disagree with the router about which route a request
 * reaches. The router reads these settings once, when it is created (the adapter's constructor
 * creates it), so they are set before the adapter exists.
 */
function strictExpress(): express.Express {
  const server = express();
  server.set('case sensitive routing', true);
  server.set('strict routing', true);
  return server;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Starts listening. On SIGTERM or SIGINT the instance stops in this order: no new connections
 * (a proxy sends those elsewhere), every request in flight answered and the keep-alive
 * connections closed after their answer (HttpDrain), then the application closed (the grant
 * flush, the revocation feed, the database), then `afterClose` (the demo's emulator); the whole at
 * most SHUTDOWN_TIMEOUT_MS, else exit code 1. A second signal exits at once.
 */
export async function listen(
  app: NestExpressApplication,
  config: AppConfig,
  options: { afterClose?: () => Promise<void> } = {},
): Promise<string> {
  const server = app.getHttpServer() as import('node:http').Server;
  server.keepAliveTimeout = 65_000;
  const drain = drains.get(app) ?? new HttpDrain();
  drain.attach(server);
  const logger = new NestLogger('Shutdown');
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.error(`${signal} again during the shutdown: exiting now`);
      process.exit(1);
    }
    stopping = true;
    setTimeout(() => {
      console.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    void stop(signal).catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const started = Date.now();
    const { inFlight, connections } = drain.stats();
    logger.log(
      { signal, inFlight, connections },
      `${signal}: stopping; no new connections, finishing ${inFlight} request(s) in flight`,
    );
    const { answered } = await drain.close(server);
    logger.log(
      { answered, drainMs: Date.now() - started },
      `every connection closed after ${Date.now() - started} ms (${answered} request(s) answered meanwhile); closing the database`,
    );
    await app.close();
    await options.afterClose?.();
    logger.log({ shutdownMs: Date.now() - started }, 'stopped');
    await flushLogs();
    for (const s of SIGNALS) process.off(s, onSignal);
    // Exit as the signal says (a supervisor sees "terminated by SIGTERM"). As PID 1 of a container
    // the signal is ignored: exit 0 then.
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(0), 200);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  // Loopback only in demo mode unless HOST says otherwise; every interface otherwise.
  if (config.host) await app.listen(config.port, config.host);
  else await app.listen(config.port);
  return app.getUrl();
}
