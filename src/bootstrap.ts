import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module';
import { sendError } from './common/all-exceptions.filter';
import { securityHeaders } from './common/security-headers';
import type { AppConfig } from './config/app-config';
import { deferMcpBodyError } from './mcp/http/deferred-body-error';

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
  const errorLogger = new NestLogger('HTTP');
  const guard =
    (parser: express.RequestHandler) =>
    (req: Request, res: Response, next: NextFunction): void => {
      void parser(req, res, (err?: unknown) => {
        if (!err || deferMcpBodyError(req, err)) next();
        else sendError(err, req, res, errorLogger);
      });
    };
  app.use(guard(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] })));
  app.use(guard(express.urlencoded({ extended: false, limit: '64kb' })));
  app.use(cookieParser(config.session.secret));
  app.enableShutdownHooks();
  return app;
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

/** Starts listening; on SIGTERM/SIGINT Nest drains requests and closes the database. */
export async function listen(app: NestExpressApplication, config: AppConfig): Promise<string> {
  const server = app.getHttpServer() as import('node:http').Server;
  server.keepAliveTimeout = 65_000;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        console.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting`);
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  await app.listen(config.port);
  return app.getUrl();
}
