import {
  Controller,
  Get,
  Header,
  Inject,
  Logger,
  Req,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { adminTokenDigest, bearerMatches } from '../access/admin/admin-token.guard';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { PrismaService } from '../database/prisma.service';
import { ReadinessRegistry } from './readiness.registry';

/** What anyone may read at /readyz: which check is up or down, never why. */
export interface PublicReadiness {
  status: 'ok' | 'error';
  /** `degraded`: up, working on the last known answers of a dependency that does not answer. */
  checks: Record<string, 'up' | 'down' | 'degraded'>;
}

/** A URL's user and password, should a reason ever carry a connection string. */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;

@Controller()
export class HealthController {
  private readonly logger = new Logger('Readiness');
  private readonly adminDigest?: Buffer;
  /** The last state of each check as logged: 'up', or the reason it is down. */
  private readonly lastLogged = new Map<string, string>();

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    private readonly readiness: ReadinessRegistry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const token = config.access.adminApiToken;
    if (token) this.adminDigest = adminTokenDigest(token);
  }

  /** Liveness: the process answers. No dependency is consulted. */
  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  liveness() {
    return { status: 'ok' };
  }

  /**
   * Readiness: the database answers, and every registered check passes; 503 otherwise. Anyone
   * learns which check is up or down; the reasons (host names, ports, database messages) go to
   * the log when a check changes, and to a caller with `Authorization: Bearer $ADMIN_API_TOKEN`.
   */
  @Get('readyz')
  @Header('Cache-Control', 'no-store')
  @Header('Vary', 'Authorization')
  @HealthCheck()
  async readinessCheck(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<PublicReadiness | (PublicReadiness & HealthCheckResult)> {
    let report: HealthCheckResult;
    try {
      report = await this.checkAll();
    } catch (err) {
      // Terminus reports "not ready" as a 503 exception carrying its report.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      report = err.getResponse() as HealthCheckResult;
    }
    const details: HealthIndicatorResult = report.details ?? {};
    this.logChanges(details);
    const summary: PublicReadiness = {
      status: report.status === 'ok' ? 'ok' : 'error',
      checks: Object.fromEntries(
        Object.entries(details).map(([name, d]) => [
          name,
          d.status !== 'up' ? 'down' : d.degraded === true ? 'degraded' : 'up',
        ]),
      ),
    };
    if (this.adminDigest && bearerMatches(req.headers.authorization, this.adminDigest))
      return { ...summary, ...report, status: summary.status };
    return summary;
  }

  private checkAll() {
    return this.health.check([
      () =>
        this.run('database', async () => {
          await this.prisma.ping();
          return { kind: this.prisma.kind };
        }),
      ...this.readiness.all().map((c) => () => this.run(c.name, c.check)),
    ]);
  }

  private async run(name: string, fn: () => Promise<Record<string, unknown> | void>) {
    const session = this.indicators.check(name);
    try {
      return session.up((await fn()) ?? {});
    } catch (err) {
      const message = ((err as Error)?.message || 'not ready').replace(URL_CREDENTIALS, '$1[Redacted]@');
      return session.down({ message });
    }
  }

  /** One log line when a check goes down (or its reason changes) and one when it is back: not one per probe. */
  private logChanges(details: HealthIndicatorResult): void {
    for (const [check, d] of Object.entries(details)) {
      const reason = d.status === 'up' ? undefined : String(d.message ?? 'not ready');
      const state = reason ?? 'up';
      const last = this.lastLogged.get(check);
      if (last === state || (last === undefined && state === 'up')) continue;
      this.lastLogged.set(check, state);
      if (reason !== undefined) this.logger.warn({ check, reason }, `readiness check ${check} is down`);
      else this.logger.log({ check }, `readiness check ${check} is up again`);
    }
  }
}
