import { Controller, Get, Header, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { PrismaService } from '../database/prisma.service';
import { ReadinessRegistry } from './readiness.registry';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly prisma: PrismaService,
    private readonly readiness: ReadinessRegistry,
  ) {}

  /** Liveness: the process answers. No dependency is consulted. */
  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  liveness() {
    return { status: 'ok' };
  }

  /** Readiness: the database answers, and every registered check passes. 503 otherwise. */
  @Get('readyz')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  async readinessCheck(@Res({ passthrough: true }) res: Response) {
    try {
      return await this.checkAll();
    } catch (err) {
      // Terminus reports "not ready" as a 503 exception; answer with its report, not the error shape.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.status(503);
      return err.getResponse();
    }
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
      return session.down({ message: (err as Error).message || 'not ready' });
    }
  }
}
